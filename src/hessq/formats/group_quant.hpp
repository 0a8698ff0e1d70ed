// Group-scaled formats: one scale (and for asymmetric INT a zero point) per tensor, per row (output
// channel or token) or per group of g consecutive values of a row; the elements are INT-b codes
// (int_quant.hpp), FP4 E2M1 codes (fp4.hpp) or FP8 codes (fp8.hpp). METHODS.md "Numeric formats".
//   INT  s (F16) and z (uint8) as in int_quant.hpp; x^ = (q - z) s.
//   FP4  s = amax / 6 rounded to F16 (same [choice]s as INT for zero/underflow/overflow);
//        x^ = E2M1(x / s) s.
//   FP8  s = amax / max (448 E4M3, 57344 E5M2) in F32, [choice] s = 1 for an all-zero group;
//        x^ = FP8(x / s) s. [choice] METHODS.md gives FP8 no scale; scaling each row/group's amax
//        onto the FP8 max (as FP8 inference recipes do) keeps small weights out of the subnormals.
// Clip search (INT, FP4): kClipGridPoints ratios (int_quant.hpp), squared error summed in double over
// the group, first minimum wins (ratio 1 first). Per group g: cols must be a multiple of g.
#pragma once
#include <cstdint>
#include <vector>

#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {

int64_t group_num_scales(const QuantSpec& spec, int64_t rows, int64_t cols);
void group_fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out);
Packed group_pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols);
void group_unpack(const QuantSpec& spec, const Packed& p, int64_t rows, int64_t cols, float* out);
Packed group_pack_params(const QuantSpec& spec, const float* w_q, int64_t rows, int64_t cols,
                         const std::vector<IntParams>& params);

}  // namespace hessq::formats
