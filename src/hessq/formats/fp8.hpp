// OCP FP8 (OCP 8-bit Floating Point Specification (OFP8) rev. 1.0, 2023; Micikevicius et al. 2022,
// arXiv:2209.05433).
//   E4M3: bias 7, max 448 (S.1111.110), subnormals m * 2^-9, no infinities, NaN = S.1111.111.
//   E5M2: bias 15, max 57344 (S.11110.11), subnormals m * 2^-16, IEEE-style Inf (S.11111.00) and NaN.
// Encoding is the "satfinite" conversion: round to nearest, ties to even; finite values beyond the
// max and +-Inf saturate to +-max; NaN -> S.1111111 (0x7F with the sign bit). Signed zeros keep
// their sign. Decoding is exact (every code is a float): a 256-entry table built at compile time.
// Inline: these run once per element in fake_quant.
#pragma once
#include <array>
#include <bit>
#include <cstdint>
#include <limits>

#include "hessq/formats/minifloat.hpp"

namespace hessq::formats {

constexpr float kE4M3Max = 448.0f;
constexpr float kE5M2Max = 57344.0f;
constexpr MiniFloatGrid kE4M3Grid{3, -6, 0x7E, kE4M3Max};
constexpr MiniFloatGrid kE5M2Grid{2, -14, 0x7B, kE5M2Max};

namespace detail {

inline uint8_t fp8_encode(const MiniFloatGrid& g, float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return sign | 0x7F;  // NaN
  return sign | minifloat_round(g, std::bit_cast<float>(bits & 0x7fffffffu));
}

constexpr std::array<float, 256> fp8_table(const MiniFloatGrid& g, bool e5m2) {
  std::array<float, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const uint8_t mag = static_cast<uint8_t>(c & 0x7F);
    float v = minifloat_value(g, mag);
    if (!e5m2 && mag == 0x7F) v = std::numeric_limits<float>::quiet_NaN();
    if (e5m2 && mag == 0x7C) v = std::numeric_limits<float>::infinity();
    if (e5m2 && mag > 0x7C) v = std::numeric_limits<float>::quiet_NaN();
    t[c] = (c & 0x80) ? -v : v;
  }
  return t;
}

inline constexpr std::array<float, 256> kE4M3Values = fp8_table(kE4M3Grid, false);
inline constexpr std::array<float, 256> kE5M2Values = fp8_table(kE5M2Grid, true);

}  // namespace detail

inline uint8_t e4m3_encode(float x) { return detail::fp8_encode(kE4M3Grid, x); }
inline uint8_t e5m2_encode(float x) { return detail::fp8_encode(kE5M2Grid, x); }
inline float e4m3_decode(uint8_t code) { return detail::kE4M3Values[code]; }
inline float e5m2_decode(uint8_t code) { return detail::kE5M2Values[code]; }

}  // namespace hessq::formats
