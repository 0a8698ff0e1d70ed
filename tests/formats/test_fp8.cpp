// FP8 E4M3 / E5M2 codecs against an independent oracle: hand-checked landmark values from the OCP
// OFP8 spec, all 256 codes, midpoints computed in double (ties to the even code), and a brute-force
// nearest-code search in double over the decoded table.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "format_test_util.hpp"
#include "hessq/formats/fp8.hpp"

namespace hessq::formats {
namespace {

struct Fp8Case {
  const char* name;
  uint8_t (*encode)(float);
  float (*decode)(uint8_t);
  uint8_t max_code;  // largest finite magnitude code
  float max_value;
  float min_subnormal;
};
const Fp8Case kCases[] = {
    {"E4M3", e4m3_encode, e4m3_decode, 0x7E, 448.0f, 0x1.0p-9f},
    {"E5M2", e5m2_encode, e5m2_decode, 0x7B, 57344.0f, 0x1.0p-16f},
};

bool is_nan_code(const Fp8Case& f, int c) { return std::isnan(f.decode(static_cast<uint8_t>(c))); }

TEST(Fp8, LandmarkValues) {
  EXPECT_EQ(e4m3_decode(0x7E), 448.0f);
  EXPECT_EQ(e4m3_decode(0x01), 0x1.0p-9f);   // min subnormal
  EXPECT_EQ(e4m3_decode(0x07), 7 * 0x1.0p-9f);  // max subnormal
  EXPECT_EQ(e4m3_decode(0x08), 0x1.0p-6f);   // min normal
  EXPECT_EQ(e4m3_decode(0x38), 1.0f);        // 0.0111.000
  EXPECT_EQ(e4m3_decode(0x39), 1.125f);
  EXPECT_EQ(e4m3_decode(0xB8), -1.0f);
  EXPECT_TRUE(std::isnan(e4m3_decode(0x7F)));
  EXPECT_TRUE(std::isnan(e4m3_decode(0xFF)));
  EXPECT_EQ(e5m2_decode(0x7B), 57344.0f);
  EXPECT_EQ(e5m2_decode(0x01), 0x1.0p-16f);
  EXPECT_EQ(e5m2_decode(0x04), 0x1.0p-14f);  // min normal
  EXPECT_EQ(e5m2_decode(0x3C), 1.0f);        // 0.01111.00
  EXPECT_EQ(e5m2_decode(0x7C), std::numeric_limits<float>::infinity());
  EXPECT_EQ(e5m2_decode(0xFC), -std::numeric_limits<float>::infinity());
  for (int c : {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}) EXPECT_TRUE(std::isnan(e5m2_decode(static_cast<uint8_t>(c))));
  // NaN codes: E4M3 has exactly 2, E5M2 has 6.
  int n4 = 0, n5 = 0;
  for (int c = 0; c < 256; ++c) n4 += std::isnan(e4m3_decode(static_cast<uint8_t>(c))), n5 += std::isnan(e5m2_decode(static_cast<uint8_t>(c)));
  EXPECT_EQ(n4, 2);
  EXPECT_EQ(n5, 6);
}

TEST(Fp8, AllCodesRoundTripAndAreMonotone) {
  for (const Fp8Case& f : kCases) {
    SCOPED_TRACE(f.name);
    for (int c = 0; c < 256; ++c) {
      if (is_nan_code(f, c)) continue;
      const float v = f.decode(static_cast<uint8_t>(c));
      if (std::isinf(v)) continue;  // E5M2 Inf saturates on encode (satfinite)
      EXPECT_EQ(f.encode(v), c) << "code " << c;
      EXPECT_EQ(f.decode(f.encode(v)), v);
      EXPECT_EQ(f.decode(static_cast<uint8_t>(c ^ 0x80)), -v) << "sign symmetry, code " << c;
      EXPECT_EQ(std::signbit(v), (c & 0x80) != 0);
    }
    for (int c = 1; c <= f.max_code; ++c) EXPECT_LT(f.decode(static_cast<uint8_t>(c - 1)), f.decode(static_cast<uint8_t>(c)));
    EXPECT_EQ(f.decode(1), f.min_subnormal);
    EXPECT_EQ(f.decode(f.max_code), f.max_value);
  }
}

TEST(Fp8, MidpointsRoundToEvenCode) {
  for (const Fp8Case& f : kCases) {
    SCOPED_TRACE(f.name);
    for (int c = 0; c < f.max_code; ++c) {
      const double lo = f.decode(static_cast<uint8_t>(c)), hi = f.decode(static_cast<uint8_t>(c + 1));
      const float mid = static_cast<float>((lo + hi) / 2);  // one more mantissa bit: exact in float
      ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2);
      const int even = (c % 2 == 0) ? c : c + 1;
      EXPECT_EQ(f.encode(mid), even) << "midpoint of codes " << c << ", " << c + 1;
      EXPECT_EQ(f.encode(-mid), even | 0x80);
      EXPECT_EQ(f.encode(std::nextafter(mid, 0.0f)), c);
      EXPECT_EQ(f.encode(std::nextafter(mid, 1e9f)), c + 1);
    }
  }
}

TEST(Fp8, SaturatesAndMapsNaN) {
  for (const Fp8Case& f : kCases) {
    SCOPED_TRACE(f.name);
    const float inf = std::numeric_limits<float>::infinity();
    for (float v : {f.max_value, std::nextafter(f.max_value, inf), f.max_value * 1.0625f, f.max_value * 1.2f, 1e30f, inf}) {
      EXPECT_EQ(f.encode(v), f.max_code) << v;
      EXPECT_EQ(f.encode(-v), f.max_code | 0x80) << v;
    }
    EXPECT_TRUE(std::isnan(f.decode(f.encode(std::numeric_limits<float>::quiet_NaN()))));
    EXPECT_EQ(f.encode(0.0f), 0x00);
    EXPECT_EQ(f.encode(-0.0f), 0x80);
    EXPECT_EQ(f.encode(f.min_subnormal / 2), 0x00);               // tie with 0 -> even code 0
    EXPECT_EQ(f.encode(std::nextafter(f.min_subnormal / 2, 1.0f)), 0x01);
    EXPECT_EQ(f.encode(1e-30f), 0x00);                            // float subnormal-range inputs
    EXPECT_EQ(f.encode(std::numeric_limits<float>::denorm_min()), 0x00);
  }
}

// Brute force: nearest finite code in double, ties to the even code, saturation above the max.
TEST(Fp8, MatchesBruteForceNearestOnRandomValues) {
  for (const Fp8Case& f : kCases) {
    SCOPED_TRACE(f.name);
    std::vector<double> v(f.max_code + 1);
    for (int c = 0; c <= f.max_code; ++c) v[c] = f.decode(static_cast<uint8_t>(c));
    uint64_t s = 7;
    for (int t = 0; t < 20000; ++t) {
      // log-uniform magnitudes over the whole range plus some beyond the max
      const double mag = std::ldexp(1.0 + test::uniform01(s), static_cast<int>(test::uniform01(s) * 40) - 22);
      const float x = static_cast<float>(mag);
      int best = 0;
      for (int c = 1; c <= f.max_code; ++c) {
        const double dc = std::fabs(v[c] - x), db = std::fabs(v[best] - x);
        if (dc < db || (dc == db && c % 2 == 0)) best = c;
      }
      ASSERT_EQ(f.encode(x), best) << x;
      ASSERT_EQ(f.encode(-x), best | 0x80) << -x;
    }
  }
}

}  // namespace
}  // namespace hessq::formats
