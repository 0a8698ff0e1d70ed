// Quantizers for ggml's block types, byte-for-byte equal to ggml's (ggml-quants.c), and the grid API
// for solvers that choose codes column by column (GPTQ-style) on exactly the grid ggml would use.
//
// A GgmlGrid is what the reference quantizer decides for one block (32 or 256 elements of a row)
// before it rounds the elements: the quantized scales and mins (so the block's header bytes), and how
// it rounds a value to a code. ggml_quantize_row_ref(x) is, block by block,
//     grid = ggml_block_grid(type, x);  code_j = ggml_grid_code(grid, j, x_j);  ggml_pack_codes(grid, codes)
// and a solver replaces the middle step: it rounds its error-corrected values with ggml_grid_qdq /
// ggml_grid_code on the same grid, then packs. Two rounding details are kept from ggml:
//   - the legacy types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) round with the fp32 inverse scale they computed
//     before storing the scale as f16 (the weighted ones: the inverse scale and, for Q4_1 / Q5_1,
//     the min their search rounded with, not the fitted ones stored), so the code is not always the
//     nearest grid point of the dequantized grid;
//   - where a sub-block's dequantized scale is 0, every code decodes to the same value; the grid
//     keeps the codes ggml stores there (zero_code) so that the bytes stay ggml's.
// With `importance` (per-element non-negative weights: llama-quantize's imatrix, or diag(H)) the grid
// is the one of ggml's weighted quantize_<type>(..., quant_weights) path (ggml_quantize_row), which
// every type but Q8_0 has (ggml_quantize_weighted.hpp). Without it, the reference quantizer: that is
// what ggml's quantize_<type>(..., nullptr) runs for every type.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "hessq/formats/ggml_blocks.hpp"

namespace hessq::formats {

enum class GgmlRounding : uint8_t {
  kTruncBiased,  // legacy: u = trunc((x - off) * inv + bias) clamped to [0, qmax - qmin]; code = u + qmin
  kRoundAway,    // Q8_0: code = roundf(x * inv) (ties away from zero), clamped
  kNearestMul,   // weighted legacy (make_qx_quants, make_qkx3_quants): code = nearest_even((x - off) * inv),
                 // clamped, with the search's own inverse scale and offset (off = 0 for Q4_0 / Q5_0)
  kNearestDiv,   // K-quants: code = nearest_even((x - min) / scale) on the dequantized grid, clamped
};

struct GgmlGrid {
  GgmlType type = GgmlType::kQ4_0;
  GgmlBlockShape shape{};
  GgmlSubScales dq;  // per sub-block dequantization: value = scale * code (+ min)
  GgmlRounding rounding = GgmlRounding::kTruncBiased;
  std::array<float, kGgmlMaxSubBlocks> inv{};  // kTruncBiased, kRoundAway, kNearestMul: inverse scale
  std::array<float, kGgmlMaxSubBlocks> off{};  // kTruncBiased, kNearestMul: value subtracted first (a min)
  float bias = 0;                              // kTruncBiased: 8.5, 16.5 or 0.5
  std::array<int8_t, kGgmlMaxBlock> zero_code{};  // stored where dq.scale of the sub-block is 0
  std::array<uint8_t, kGgmlMaxBlockBytes> header{};  // the block's bytes with every code bit zero
};

// The grid ggml chooses for one block x[0, block). importance (block elements, or nullptr for the
// reference quantizer) selects the weighted variant; row_sigma2 is the row's sum(x^2)/n, which
// ggml's weighted Q4_0/Q4_1/Q5_0/Q5_1 use (ggml_row_grids computes it). Throws on non-finite x,
// on negative or non-finite importance, and for an importance on Q8_0 (ggml ignores it there).
GgmlGrid ggml_block_grid(GgmlType type, const float* x, const float* importance = nullptr, float row_sigma2 = 0);
// The grids of every block of a row of n elements (n a multiple of the block size, else throws).
std::vector<GgmlGrid> ggml_row_grids(GgmlType type, const float* x, int64_t n, const float* importance = nullptr);
// Whether ggml_block_grid accepts an importance for `type`: every block type but Q8_0.
bool ggml_supports_importance(GgmlType type);

// The grid of one block of a symmetric legacy type (Q4_0, Q5_0, Q8_0) with the given scale, rounded
// to f16 as the block stores it: value = d * code. For codes another quantizer chose on that grid (an
// INT-b symmetric group of 32 with an F16 scale is exactly such a block). Throws for other types.
GgmlGrid ggml_scale_grid(GgmlType type, float d);

// The code ggml would store for value x at element j of the grid's block, its value, and both at once.
int ggml_grid_code(const GgmlGrid& g, int j, float x);
float ggml_grid_value(const GgmlGrid& g, int j, int code);
inline float ggml_grid_qdq(const GgmlGrid& g, int j, float x) { return ggml_grid_value(g, j, ggml_grid_code(g, j, x)); }

// The block's bytes: the grid's header and the codes (each in [qmin, qmax], else throws).
void ggml_pack_codes(const GgmlGrid& g, const int* codes, uint8_t* block);
// The same from values already on the grid: each must equal ggml_grid_value(g, j, q) for some code q
// (bit for bit), else throws naming the element; where several codes give the value (a zero scale)
// the grid's zero_code is stored.
void ggml_pack_values(const GgmlGrid& g, const float* values, uint8_t* block);

// ggml's quantize_row_<type>_ref over n elements (a multiple of the block size) into
// n / block * bytes bytes at dst.
void ggml_quantize_row_ref(GgmlType type, const float* x, int64_t n, uint8_t* dst);
// ggml's quantize_<type>(x, dst, 1, n, importance) for one row: the reference when importance is
// nullptr, the weighted search otherwise.
void ggml_quantize_row(GgmlType type, const float* x, int64_t n, const float* importance, uint8_t* dst);

}  // namespace hessq::formats
