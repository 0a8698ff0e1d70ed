// QuantSpec: a numeric format and its granularity, and the three operations every format offers:
// fake_quant (quantize then dequantize, the simulation used by every method), pack (codes + scales in
// their storage types) and unpack (dequantize). dequant(pack(x)) == fake_quant(x) bit for bit.
// METHODS.md "Numeric formats" is the specification; each format file documents its [choice]s:
//   fp8.hpp (E4M3/E5M2 codecs), fp4.hpp (E2M1 codec), int_quant.hpp (INT-b scale/zero/codes),
//   group_quant.hpp (INT, FP4, FP8 with one scale per tensor/row/group), nvfp4.hpp, mx.hpp.
//
// Layout: x is row-major [rows, cols]; quantization groups always run along cols, the reduction
// (input) dimension. For weights rows are output channels, for activations rows are tokens.
// Inputs must be finite (NaN/Inf are not diagnosed and give unspecified codes).
//
// Block sizes and padding:
//   INT / FP4 / FP8 per group g: cols must be a multiple of g (hessq::Error naming the dims otherwise).
//   NVFP4 (all modes) and MX: a trailing partial block (cols, and rows for 16x16 tiles, not a
//     multiple of 16 / 32) is quantized as if zero-padded to the full block: the padding never raises
//     the block amax, and padded values are not stored. This is the reference mode's zero padding.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hessq::formats {

enum class Format {
  Int,      // INT-b, b = 2..8, symmetric or asymmetric
  Fp8E4M3,  // OCP FP8, max 448, no inf (F32 scale amax/448 per tensor/row/group)
  Fp8E5M2,  // OCP FP8, max 57344 (F32 scale amax/57344)
  Fp4E2M1,  // 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6 (scaled per group like INT)
  NvFp4,    // E2M1 in blocks of 16, E4M3 block scale, FP32 global scale
  MxFp4,    // E2M1 in blocks of 32, E8M0 power-of-two scale
  MxFp8,    // E4M3 in blocks of 32, E8M0 power-of-two scale
  Ggml,     // one of ggml's block types (Q4_0 ... Q6_K, formats/ggml_format.hpp), bytes as ggml stores them
};

enum class Granularity {
  PerTensor,   // one scale for the whole matrix
  PerChannel,  // one scale per row (output channel for weights)
  PerToken,    // one scale per row (token for activations); same math as PerChannel
  PerGroup,    // one scale per `group` consecutive values of a row
  Tile2D,      // NVFP4 weights: one scale per 16 x 16 tile
};

struct QuantSpec {
  Format format = Format::Int;
  int bits = 4;              // Int: 2..8 (other formats imply their width; parse_spec sets it, it is ignored)
  bool symmetric = true;     // Int only
  Granularity granularity = Granularity::PerChannel;
  int group = 0;             // PerGroup: values per group (NVFP4 16, MX 32 set by parse_spec; 0 = that)
  bool clip_search = false;  // Int/FP4: grid search of a clipping ratio in [0.5, 1] (METHODS.md)
  bool nvfp4_ref = false;    // NVFP4 reference-compatibility mode: e4m3_sim(amax/6) scale, no global
  uint32_t ggml_type = 0;    // Ggml only: the ggml type id (formats/ggml_types.hpp)

  std::string name() const;  // canonical name, parse_spec(name()) == *this (for specs parse_spec made)
  int element_bits() const;  // bits per stored element code
  // Storage cost in bits per element including scales/zeros, for an [rows, cols] matrix.
  // Nominal: INT-b counts b bits (pack stores b <= 4 in nibbles), scales count their storage width
  // (F16 16, F32 32, E4M3/E8M0 8; nvfp4-ref counts its scale as the 8-bit E4M3 it simulates), zero
  // points 8, NVFP4's FP32 global scale 32 once per matrix. E.g. nvfp4 4 + 8/16 + 32/(rows*cols).
  double bits_per_element(int64_t rows, int64_t cols) const;

  bool operator==(const QuantSpec&) const = default;
};

// Throws hessq::Error if the fields do not describe a supported format (bits out of 2..8, a
// granularity the format does not have, clip search on a format without it, ...).
void validate(const QuantSpec& spec);

// Number of scales pack() stores for an [rows, cols] matrix (= IntParams that pack_int expects).
int64_t num_scales(const QuantSpec& spec, int64_t rows, int64_t cols);

// The activation quantizer that goes with a weight spec: per-channel becomes per-token (same math)
// and NVFP4 16x16 tiles become 1x16 blocks (METHODS.md: activations are quantized per token in
// 1 x 16 blocks; "nvfp4-ref" = weights in 16x16 tiles, activations "nvfp4-ref-1d"). Else unchanged.
QuantSpec activation_spec(const QuantSpec& weight_spec);

// Names: "int4" (per channel, sym), "int4-asym", "int4-g128", "int8-tok", "int4-tensor",
// "fp8-e4m3", "fp8-e5m2", "fp4" / "fp4-g32", "nvfp4" (1x16), "nvfp4-2d" (16x16 tiles),
// "nvfp4-ref", "mxfp4", "mxfp8"; a "-clip" suffix enables clip search. Throws hessq::Error listing
// the accepted forms on anything else.
// Grammar (modifiers in any order, each at most once; name() writes them in this order):
//   int<b>[-asym][-tensor|-tok|-g<N>][-clip]   b = 2..8, default per channel, symmetric
//   fp4[-tensor|-tok|-g<N>][-clip]             E2M1 codes, F16 scale amax/6 per row/group
//   fp8-e4m3|fp8-e5m2[-tensor|-tok|-g<N>]      FP8 codes, F32 scale amax/max per row/group
//   nvfp4 (1x16), nvfp4-2d (16x16 tiles), nvfp4-ref (16x16 tiles), nvfp4-ref-1d (1x16)
//   mxfp4, mxfp8                                blocks of 32, E8M0 scale
//   q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k   ggml's block types (ggml_format.hpp)
QuantSpec parse_spec(const std::string& name);

// out = dequant(quant(x)); out may alias x. Throws if cols is not a multiple of the group size for
// INT/FP4/FP8 per group; NVFP4 and MX pad partial blocks with zeros (see the top of this header).
// Parallel over rows (OpenMP); the result does not depend on the thread count.
void fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out);

// Storage. codes: row r starts at byte r * ceil(cols / 2) for 4-bit containers (two codes per byte,
// low nibble first: FP4/NVFP4/MXFP4 and INT-b with b <= 4) or r * cols for 8-bit ones (FP8, MXFP8,
// INT-b with b > 4). INT codes: symmetric q as two's complement in its container, asymmetric q
// unsigned. scales: one per scale group in num_scales() order (row-major [rows, groups per row];
// per tensor 1; tiles [ceil(rows/16), ceil(cols/16)]), little-endian, dtype in scale_dtype:
// INT and FP4 "F16", FP8 "F32", NVFP4 "F8_E4M3" (nvfp4-ref "F32": e4m3_sim values have no E4M3
// byte), MX "E8M0" (byte = exponent + 127).
struct Packed {
  std::vector<uint8_t> codes;   // element codes; 4-bit formats two per byte, low nibble first
  std::vector<uint8_t> scales;  // one per scale group, in the format's scale storage type, little-endian
  std::vector<uint8_t> zeros;   // asymmetric INT zero points, one byte per group
  float global_scale = 1.0f;    // NVFP4 per-tensor FP32 scale (1 for every other format and nvfp4-ref)
  std::string scale_dtype;      // "F32", "F16", "F8_E4M3", "E8M0"
};

Packed pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols);
// Throws hessq::Error if p's sizes or scale_dtype do not match spec and [rows, cols].
void unpack(const QuantSpec& spec, const Packed& p, int64_t rows, int64_t cols, float* out);

// Building blocks for solvers that choose codes column by column (GPTQ): INT parameters of one
// group of values and quantize-dequantize of one value with them. `maxq` = 2^bits - 1.
struct IntParams {
  float scale = 1.0f;
  float zero = 0.0f;  // asymmetric zero point (in code units); 0 for symmetric
};
// INT scales are stored as F16: int_params rounds the scale to the nearest f16 value, so fake_quant,
// pack/unpack and column-wise solvers all decode to the same floats.
IntParams int_params(const float* x, int64_t n, int bits, bool symmetric, float clip_ratio = 1.0f);
float int_quant_dequant(float x, const IntParams& p, int bits, bool symmetric);

// The same for any group-scaled spec (Int, Fp4E2M1, Fp8*: IntParams.scale is the group scale, zero 0
// for the float formats): the parameters fake_quant would choose for one group of n values (clip
// search included when spec.clip_search), and quantize-dequantize of one value with them.
IntParams group_params(const QuantSpec& spec, const float* x, int64_t n);
float group_quant_dequant(const QuantSpec& spec, float x, const IntParams& p);

// Packs an INT matrix whose values already lie on the grid of the given per-group parameters
// (row-major [rows, cols / group], as GPTQ produces); unpack() of the result returns w_q exactly.
// params has num_scales(spec, rows, cols) entries (per tensor: 1, or rows identical ones). Also
// accepts Fp4E2M1 and Fp8 group specs. Throws if a value is off its group's grid or a scale is not
// representable in the scale storage type (F16 for INT/FP4).
Packed pack_int(const QuantSpec& spec, const float* w_q, int64_t rows, int64_t cols, const std::vector<IntParams>& params);

}  // namespace hessq::formats
