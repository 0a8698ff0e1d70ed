#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "hessq/core/half.hpp"

namespace hessq {

// Every finite f16 code must survive f16 -> f32 -> f16 exactly (f32 holds every f16 value).
TEST(Half, F16RoundTripsAllCodes) {
  for (uint32_t c = 0; c < 0x10000; ++c) {
    uint16_t h = static_cast<uint16_t>(c);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads are not preserved
    ASSERT_EQ(f32_to_f16(f16_to_f32(h)), h) << std::hex << c;
  }
}

TEST(Half, F16HandComputed) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even (down)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(f32_to_f16(70000.0f), 0x7c00);  // overflow -> inf
}

TEST(Half, Bf16RoundTripAndTies) {
  for (uint32_t c = 0; c < 0x10000; ++c) {
    uint16_t h = static_cast<uint16_t>(c);
    if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) continue;
    ASSERT_EQ(f32_to_bf16(bf16_to_f32(h)), h);
  }
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie -> even
}

}  // namespace hessq
