// ggml_scale_grid: a Q4_0 / Q5_0 / Q8_0 block with a given scale, against ggml's published layouts
// (ggml-common.h: block_q4_0 = f16 d, 16 bytes of nibbles, element j in the low nibble of byte j
// and j + 16 in the high one, value d * (nibble - 8); block_q8_0 = f16 d, 32 int8, value d * q).
#include <gtest/gtest.h>

#include <cstring>

#include "hessq/core/half.hpp"
#include "hessq/formats/ggml_blocks.hpp"
#include "hessq/formats/ggml_quantize.hpp"
#include "test_util.hpp"

namespace hessq::formats {
namespace {

TEST(GgmlScaleGrid, Q4_0BlockByHand) {
  int codes[32];
  for (int j = 0; j < 32; ++j) codes[j] = j % 16 - 8;  // -8 .. 7 twice
  uint8_t block[18];
  ggml_pack_codes(ggml_scale_grid(GgmlType::kQ4_0, 0.1f), codes, block);
  uint16_t d;
  std::memcpy(&d, block, 2);
  EXPECT_EQ(d, f32_to_f16(0.1f));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(block[2 + i], static_cast<uint8_t>(i | (i << 4))) << i;
  float out[32];
  ggml_dequantize(GgmlType::kQ4_0, block, 32, out);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], f16_to_f32(d) * static_cast<float>(codes[j])) << j;
}

TEST(GgmlScaleGrid, Q8_0AndQ5_0DecodeToScaleTimesCode) {
  int c8[32], c5[32];
  for (int j = 0; j < 32; ++j) c8[j] = j * 8 - 128, c5[j] = j - 16;  // -128 .. 120, -16 .. 15
  uint8_t b8[34], b5[22];
  ggml_pack_codes(ggml_scale_grid(GgmlType::kQ8_0, 0.25f), c8, b8);
  ggml_pack_codes(ggml_scale_grid(GgmlType::kQ5_0, 0.25f), c5, b5);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(static_cast<int8_t>(b8[2 + j]), c8[j]);
  float o8[32], o5[32];
  ggml_dequantize(GgmlType::kQ8_0, b8, 32, o8);
  ggml_dequantize(GgmlType::kQ5_0, b5, 32, o5);
  for (int j = 0; j < 32; ++j) {
    EXPECT_EQ(o8[j], 0.25f * static_cast<float>(c8[j])) << j;
    EXPECT_EQ(o5[j], 0.25f * static_cast<float>(c5[j])) << j;
  }
  const std::string err = test::error_of([] { ggml_scale_grid(GgmlType::kQ4_1, 1.0f); });
  EXPECT_NE(err.find("Q4_1 is not a symmetric legacy type"), std::string::npos) << err;
}

}  // namespace
}  // namespace hessq::formats
