// FP4 E2M1 codec against the code-point list of METHODS.md, hand-written ties-to-even midpoints and a
// brute-force nearest search in double.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "format_test_util.hpp"
#include "hessq/formats/fp4.hpp"

namespace hessq::formats {
namespace {

constexpr float kPoints[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};  // METHODS.md

TEST(Fp4, AllSixteenCodes) {
  for (int c = 0; c < 16; ++c) {
    const float v = e2m1_decode(static_cast<uint8_t>(c));
    EXPECT_EQ(v, c < 8 ? kPoints[c] : -kPoints[c - 8]) << c;
    EXPECT_EQ(std::signbit(v), c >= 8);
    EXPECT_EQ(e2m1_encode(v), c) << c;
  }
  EXPECT_EQ(e2m1_decode(0xF7), 6.0f);  // only the low nibble counts
}

TEST(Fp4, MidpointsTieToEvenMantissa) {
  struct Tie {
    float x;
    float expected;
  };
  // Even codes have mantissa 0: 0, 1, 2, 4 (codes 0, 2, 4, 6) win ties; 0.5/1.5/3/6 never do.
  const Tie ties[] = {{0.25f, 0.0f}, {0.75f, 1.0f}, {1.25f, 1.0f}, {1.75f, 2.0f}, {2.5f, 2.0f}, {3.5f, 4.0f}, {5.0f, 4.0f}};
  for (const Tie& t : ties) {
    EXPECT_EQ(e2m1_decode(e2m1_encode(t.x)), t.expected) << t.x;
    EXPECT_EQ(e2m1_decode(e2m1_encode(-t.x)), -t.expected) << -t.x;
    EXPECT_EQ(e2m1_encode(t.x) % 2, 0) << t.x;
  }
  for (int c = 0; c < 7; ++c) {  // just off each midpoint: the nearer code
    const float mid = (kPoints[c] + kPoints[c + 1]) / 2;
    EXPECT_EQ(e2m1_encode(std::nextafter(mid, 0.0f)), c);
    EXPECT_EQ(e2m1_encode(std::nextafter(mid, 100.0f)), c + 1);
  }
}

TEST(Fp4, SaturatesAtSix) {
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {6.0f, 6.5f, 7.0f, 100.0f, 1e30f, inf}) {
    EXPECT_EQ(e2m1_encode(v), 7) << v;
    EXPECT_EQ(e2m1_encode(-v), 15) << v;
  }
  EXPECT_EQ(e2m1_encode(0.0f), 0);
  EXPECT_EQ(e2m1_encode(-0.0f), 8);
  EXPECT_EQ(e2m1_encode(std::numeric_limits<float>::quiet_NaN()) & 7, 0);  // no NaN code: zero
}

TEST(Fp4, MatchesBruteForceNearest) {
  uint64_t s = 11;
  for (int t = 0; t < 20000; ++t) {
    const float x = static_cast<float>(8.0 * test::uniform01(s));
    int best = 0;
    for (int c = 1; c < 8; ++c) {
      const double dc = std::fabs(double(kPoints[c]) - x), db = std::fabs(double(kPoints[best]) - x);
      if (dc < db || (dc == db && c % 2 == 0)) best = c;
    }
    ASSERT_EQ(e2m1_encode(x), best) << x;
    ASSERT_EQ(e2m1_encode(-x), best | 8) << -x;
  }
}

}  // namespace
}  // namespace hessq::formats
