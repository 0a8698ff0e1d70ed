// INT-b quantization of one group of values (METHODS.md "Numeric formats", INT-b; the GPTQ
// quantizer of Frantar et al. 2022, arXiv:2210.17323, quant.py):
//   symmetric   s = absmax / (2^(b-1) - 1),  q = clamp(round(x / s), -2^(b-1), 2^(b-1) - 1),  x^ = q s
//   asymmetric  s = (max - min) / (2^b - 1), z = round(-min / s), q = clamp(round(x / s) + z, 0, 2^b - 1),
//               x^ = (q - z) s
// round = nearest, ties to even. All arithmetic in float, in this order, everywhere (fake_quant,
// pack/unpack, GPTQ's column loop), so every path decodes to the same floats.
// [choice] s is rounded to the nearest F16 value (the storage type); a group with absmax 0 gets
//   s = 1 (q = 0); a nonzero group whose s underflows F16 gets 2^-24, the smallest F16; s above the
//   F16 max is clamped to 65504 (the values then saturate).
// [choice] asymmetric: the range is [min(min x, 0), max(max x, 0)] (GPTQ), so z lies in [0, 2^b - 1]
//   and zero is exactly representable; z is stored as one byte.
// [choice] clip ratio r (clip search): absmax (symmetric) or both min and max (asymmetric) are
//   multiplied by r before computing s; values beyond the clipped range saturate.
#pragma once
#include <cmath>
#include <cstdint>

#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {

// Clip search grid: kClipGridPoints ratios from 1 down to kClipMinRatio, evenly spaced; the first
// (r = 1, no clipping) wins ties, so clip search never does worse than no clipping.
constexpr int kClipGridPoints = 20;
constexpr float kClipMinRatio = 0.5f;
inline float clip_grid_ratio(int k) { return 1.0f - (1.0f - kClipMinRatio) * static_cast<float>(k) / (kClipGridPoints - 1); }

// F16 storage of a positive scale (the [choice]s above); amax is the group magnitude it came from.
float round_scale_f16(float s, float amax);

inline int int_qmin(int bits, bool symmetric) { return symmetric ? -(1 << (bits - 1)) : 0; }
inline int int_qmax(int bits, bool symmetric) { return symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1; }

// q (integer valued) of one value; the dequantized value is int_dequantize(q). fmin/fmax rather
// than clamp: a NaN quotient lands on qmin instead of propagating.
inline float int_quantize(float x, const IntParams& p, int bits, bool symmetric) {
  const float q = std::nearbyint(x / p.scale) + p.zero;
  return std::fmin(std::fmax(q, static_cast<float>(int_qmin(bits, symmetric))), static_cast<float>(int_qmax(bits, symmetric)));
}
inline float int_dequantize(float q, const IntParams& p) { return (q - p.zero) * p.scale; }

}  // namespace hessq::formats
