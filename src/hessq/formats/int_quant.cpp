#include "hessq/formats/int_quant.hpp"

#include <algorithm>
#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"

namespace hessq::formats {

float round_scale_f16(float s, float amax) {
  constexpr float kF16Max = 65504.0f;
  constexpr float kF16MinSubnormal = 5.9604644775390625e-8f;  // 2^-24
  if (amax == 0.0f) return 1.0f;
  const float h = f16_to_f32(f32_to_f16(std::min(s, kF16Max)));
  return h > 0.0f ? h : kF16MinSubnormal;
}

IntParams int_params(const float* x, int64_t n, int bits, bool symmetric, float clip_ratio) {
  HESSQ_CHECK(bits >= 2 && bits <= 8, "INT quantization: bits = {}, expected 2..8", bits);
  IntParams p;
  if (symmetric) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
    amax *= clip_ratio;
    p.scale = round_scale_f16(amax / static_cast<float>(int_qmax(bits, true)), amax);
    return p;
  }
  float mn = 0.0f, mx = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  mn *= clip_ratio;
  mx *= clip_ratio;
  const float qmax = static_cast<float>(int_qmax(bits, false));
  p.scale = round_scale_f16((mx - mn) / qmax, mx - mn);
  p.zero = std::clamp(std::nearbyint(-mn / p.scale), 0.0f, qmax);
  return p;
}

float int_quant_dequant(float x, const IntParams& p, int bits, bool symmetric) {
  return int_dequantize(int_quantize(x, p, bits, symmetric), p);
}

}  // namespace hessq::formats
