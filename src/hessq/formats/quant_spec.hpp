// QuantSpec: a numeric format and its granularity, and the three operations every format offers:
// fake_quant (quantize then dequantize, the simulation used by every method), pack (codes + scales in
// their storage types) and unpack (dequantize). dequant(pack(x)) == fake_quant(x) bit for bit.
// METHODS.md "Numeric formats" is the specification.
//
// Layout: x is row-major [rows, cols]; quantization groups always run along cols, the reduction
// (input) dimension. For weights rows are output channels, for activations rows are tokens.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hessq::formats {

enum class Format {
  Int,      // INT-b, b = 2..8, symmetric or asymmetric
  Fp8E4M3,  // OCP FP8, max 448, no inf
  Fp8E5M2,  // OCP FP8, max 57344
  Fp4E2M1,  // 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6 (scaled per group like INT)
  NvFp4,    // E2M1 in blocks of 16, E4M3 block scale, FP32 global scale
  MxFp4,    // E2M1 in blocks of 32, E8M0 power-of-two scale
  MxFp8,    // E4M3 in blocks of 32, E8M0 power-of-two scale
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
  int bits = 4;              // Int: 2..8 (other formats imply their width)
  bool symmetric = true;     // Int only
  Granularity granularity = Granularity::PerChannel;
  int group = 0;             // PerGroup: values per group (NVFP4 16, MX 32 set by parse_spec)
  bool clip_search = false;  // Int/FP4: grid search of a clipping ratio in [0.5, 1] (METHODS.md)
  bool nvfp4_ref = false;    // NVFP4 reference-compatibility mode: e4m3_sim(amax/6) scale, no global

  std::string name() const;  // canonical name, parse_spec(name()) == *this
  int element_bits() const;  // bits per stored element code
  // Storage cost in bits per element including scales/zeros, for an [rows, cols] matrix.
  double bits_per_element(int64_t rows, int64_t cols) const;
};

// Names: "int4" (per channel, sym), "int4-asym", "int4-g128", "int8-tok", "int4-tensor",
// "fp8-e4m3", "fp8-e5m2", "fp4" / "fp4-g32", "nvfp4" (1x16), "nvfp4-2d" (16x16 tiles),
// "nvfp4-ref", "mxfp4", "mxfp8"; a "-clip" suffix enables clip search. Throws hessq::Error listing
// the accepted forms on anything else.
QuantSpec parse_spec(const std::string& name);

// out = dequant(quant(x)); out may alias x. Throws if cols is not a multiple of the block size where
// the format requires it (NVFP4: 16, MX: 32, Tile2D: rows and cols multiples of 16) unless padding
// is documented by the format (see formats/README in the header of each format file).
void fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out);

struct Packed {
  std::vector<uint8_t> codes;   // element codes; 4-bit formats two per byte, low nibble first
  std::vector<uint8_t> scales;  // one per scale group, in the format's scale storage type, little-endian
  std::vector<uint8_t> zeros;   // asymmetric INT zero points, one byte per group
  float global_scale = 1.0f;    // NVFP4 per-tensor FP32 scale
  std::string scale_dtype;      // "F32", "F16", "F8_E4M3", "E8M0"
};

Packed pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols);
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

// Packs an INT matrix whose values already lie on the grid of the given per-group parameters
// (row-major [rows, cols / group], as GPTQ produces); unpack() of the result returns w_q exactly.
Packed pack_int(const QuantSpec& spec, const float* w_q, int64_t rows, int64_t cols, const std::vector<IntParams>& params);

}  // namespace hessq::formats
