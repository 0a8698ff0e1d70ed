// FP4 E2M1 (OCP Microscaling Formats (MX) Specification v1.0, 2023): 1 sign, 2 exponent bits (bias
// 1), 1 mantissa bit; code points 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives (codes 8..15 = sign
// bit 3 set). No Inf/NaN. Encoding rounds to nearest with ties to the even (mantissa 0) code and
// saturates at +-6; NaN encodes to a zero code. The code is the low nibble of the returned byte.
// Inline: these run once per element in fake_quant.
#pragma once
#include <bit>
#include <cstdint>

namespace hessq::formats {

constexpr float kE2M1Max = 6.0f;

// Magnitude code = number of decision thresholds passed. The thresholds are the midpoints of
// adjacent code points; at a midpoint the comparison is strict (>) when the lower code is even and
// inclusive (>=) when the upper one is, which is ties-to-even.
inline uint8_t e2m1_encode(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint8_t sign = static_cast<uint8_t>((bits >> 28) & 0x8u);
  const float a = std::bit_cast<float>(bits & 0x7fffffffu);
  const int mag = (a > 0.25f) + (a >= 0.75f) + (a > 1.25f) + (a >= 1.75f) + (a > 2.5f) + (a >= 3.5f) + (a > 5.0f);
  return static_cast<uint8_t>(sign | mag);
}

inline float e2m1_decode(uint8_t code) {
  static constexpr float kValues[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                        -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
  return kValues[code & 0xF];
}

}  // namespace hessq::formats
