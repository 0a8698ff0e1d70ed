// NVFP4 (NVIDIA Blackwell FP4; METHODS.md "Numeric formats"): E2M1 elements (fp4.hpp) in blocks of
// kNvfp4Block along the input dim (1 x 16) or in 16 x 16 tiles (Granularity::Tile2D, weights), one
// FP8 E4M3 scale per block and one FP32 global scale per matrix:
//   1. g   = amax_tensor / (6 * 448)                                  (FP32; [choice] 1 if amax is 0)
//   2. s_b = E4M3(amax_block / 6 / g)   (fp8.hpp: RNE, satfinite)     stored as an F8_E4M3 byte
//   3. d_b = s_b * g;  code = E2M1(x / d_b);  x^ = (E2M1value(code) * s_b) * g
//   A block whose d_b is 0 (all-zero block, or s_b underflowing E4M3) gets codes 0 (x^ = 0, no
//   division by zero). All steps in float in this order (fake_quant and unpack share them).
// The global scale is per call: fake_quant on a batch of activations uses the batch's amax.
//
// Reference-compatibility mode (spec.nvfp4_ref, "nvfp4-ref"; ARHQ reference code): no global scale,
//   s_b = e4m3_sim(amax_block / 6) with e4m3_sim(v) = round(v / 2^(floor(log2 v) - 3)) * 2^(floor(log2 v) - 3)
//   (v > 0; 0 stays 0): a 3-bit-mantissa rounding with no exponent range, so no saturation and no
//   subnormals. [choice] round = round half to even (torch.round); floor(log2 v) is taken exactly
//   from the float's exponent. The scale has no E4M3 byte, so pack stores it as F32 (exact).
//   Weights use 16x16 tiles ("nvfp4-ref"), activations 1x16 blocks ("nvfp4-ref-1d").
//
// Padding (all modes): cols (and rows, for tiles) need not be multiples of 16; a partial trailing
// block is quantized as if zero-padded to 16 (the padding does not change amax) and the padding is
// dropped. Scales are stored for the padded block grid: [rows, ceil(cols/16)] or
// [ceil(rows/16), ceil(cols/16)].
#pragma once
#include <cstdint>
#include <vector>

#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {

constexpr int kNvfp4Block = 16;

float e4m3_sim(float v);

int64_t nvfp4_num_scales(const QuantSpec& spec, int64_t rows, int64_t cols);
void nvfp4_fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out);
Packed nvfp4_pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols);
void nvfp4_unpack(const QuantSpec& spec, const Packed& p, int64_t rows, int64_t cols, float* out);

// Steps 1 and 2 alone (standard mode), for solvers that choose block scales themselves (GPTQ enters
// each block with error-updated values): g of a tensor, and the E4M3 code of a block's scale.
float nvfp4_global_scale(const float* x, int64_t n);
uint8_t nvfp4_block_scale_code(float amax_block, float g);
// x^ = E2M1value(E2M1(x / d)) * s * g with d = s * g (step 3; 0 when d is 0).
float nvfp4_quant_dequant(float x, float s, float g);
// Packs xq [rows, cols], already on the grid of global scale g and 1x16 block scale codes
// [rows, ceil(cols/16)] (standard mode, not tiles). Throws if an element is not E2M1 x s_b x g.
Packed nvfp4_pack_on_grid(const QuantSpec& spec, const float* xq, int64_t rows, int64_t cols, float g,
                          const std::vector<uint8_t>& block_codes);

}  // namespace hessq::formats
