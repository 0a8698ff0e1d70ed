// Round to nearest, ties to even, onto a small sign-magnitude float grid (1 sign bit, E exponent
// bits, M mantissa bits, bias 1 - emin, subnormals), saturating at the largest finite code: the OCP
// "satfinite" conversion. fp8.cpp instantiates it for E4M3 and E5M2. Internal to formats/.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace hessq::formats {

struct MiniFloatGrid {
  int mbits;         // M
  int emin;          // exponent of the smallest normal value (1 - bias)
  uint8_t max_code;  // magnitude code (sign bit clear) of the largest finite value
  float max_value;   // its value
};

// Magnitude code of a >= 0 (not NaN): nearest grid value, ties to the even code; a >= max_value
// (including +inf) gives max_code. Codes are monotone in the value, and with e = max(floor(log2 a),
// emin) the grid spacing in [2^e, 2^(e+1)) is 2^(e - M), so code = (e - emin) * 2^M + round(a / 2^(e-M))
// covers normals, subnormals (e = emin) and the carry into the next binade in one formula.
inline uint8_t minifloat_round(const MiniFloatGrid& g, float a) {
  if (!(a < g.max_value)) return g.max_code;
  int e = static_cast<int>(std::bit_cast<uint32_t>(a) >> 23) - 127;  // floor(log2 a); float subnormals -> -127
  if (e < g.emin) e = g.emin;
  const float inv_step = std::bit_cast<float>(static_cast<uint32_t>(g.mbits - e + 127) << 23);  // 2^(M - e)
  const float q = std::nearbyint(a * inv_step);  // exact scaling by a power of two, then RNE
  return static_cast<uint8_t>(((e - g.emin) << g.mbits) + static_cast<int>(q));
}

// 2^k by exact halvings/doublings (constexpr, unlike std::ldexp).
constexpr float exact_pow2(int k) {
  float v = 1.0f;
  for (; k > 0; --k) v *= 2.0f;
  for (; k < 0; ++k) v /= 2.0f;
  return v;
}

// Value of a magnitude code (no NaN/Inf handling: callers special-case those codes).
constexpr float minifloat_value(const MiniFloatGrid& g, uint8_t mag) {
  const int e = mag >> g.mbits, m = mag & ((1 << g.mbits) - 1);
  if (e == 0) return static_cast<float>(m) * exact_pow2(g.emin - g.mbits);
  return static_cast<float>((1 << g.mbits) + m) * exact_pow2(e - 1 + g.emin - g.mbits);
}

}  // namespace hessq::formats
