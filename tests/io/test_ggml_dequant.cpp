// ggml block dequantization against hand-built blocks whose values are worked out by hand (f16 scales
// given as bit patterns, so the expected floats are exact), and the errors for types hessq does not
// read, misaligned ranges and truncated data.
#include "hessq/io/ggml_dequant.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "hessq/core/error.hpp"

namespace hessq::io {
namespace {

constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 8, kQ4_K = 12, kQ8_K = 15, kIQ2_XXS = 16,
                   kBF16 = 30;

// f16 bit patterns of a few exact values.
constexpr uint16_t kHalf = 0x3800, kQuarter = 0x3400, kEighth = 0x3000, kOne = 0x3c00, kTwo = 0x4000,
                   kMinusTwo = 0xc000;

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v & 0xff));
  b.push_back(static_cast<uint8_t>(v >> 8));
}

// Two Q4_1 blocks. Block 0: d = 0.5, m = -2, byte j = j | (15 - j) << 4, so element j (< 16) is
// 0.5 j - 2 and element 16 + j is 0.5 (15 - j) - 2. Block 1: d = 0.25, m = 1, every byte 0xf0: the
// first 16 elements are 1, the last 16 are 15 * 0.25 + 1 = 4.75.
std::vector<uint8_t> q4_1_blocks() {
  std::vector<uint8_t> b;
  put16(b, kHalf);
  put16(b, kMinusTwo);
  for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>(j | (15 - j) << 4));
  put16(b, kQuarter);
  put16(b, kOne);
  for (int j = 0; j < 16; ++j) b.push_back(0xf0);
  return b;
}

std::vector<float> q4_1_expected() {
  std::vector<float> y(64);
  for (int j = 0; j < 16; ++j) {
    y[j] = 0.5f * j - 2.f;
    y[16 + j] = 0.5f * (15 - j) - 2.f;
    y[32 + j] = 1.f;
    y[48 + j] = 4.75f;
  }
  return y;
}

// Two Q8_0 blocks. Block 0: d = 0.125, q_j = j - 16 (element j is (j - 16) / 8). Block 1: d = 2,
// q = -128, 127, then 0, 1, ..., 29 (elements -256, 254, 0, 2, ..., 58).
std::vector<uint8_t> q8_0_blocks() {
  std::vector<uint8_t> b;
  put16(b, kEighth);
  for (int j = 0; j < 32; ++j) b.push_back(static_cast<uint8_t>(static_cast<int8_t>(j - 16)));
  put16(b, kTwo);
  b.push_back(0x80);
  b.push_back(0x7f);
  for (int j = 0; j < 30; ++j) b.push_back(static_cast<uint8_t>(j));
  return b;
}

std::vector<float> q8_0_expected() {
  std::vector<float> y(64);
  for (int j = 0; j < 32; ++j) y[j] = (j - 16) / 8.f;
  y[32] = -256.f;
  y[33] = 254.f;
  for (int j = 0; j < 30; ++j) y[34 + j] = 2.f * j;
  return y;
}

std::vector<float> convert(uint32_t type, const std::vector<uint8_t>& b, int64_t first, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n), -1.f);
  ggml_to_f32(type, b.data(), b.size(), first, n, y.data(), "f.gguf", "t");
  return y;
}

std::string error_of(uint32_t type, const std::vector<uint8_t>& b, int64_t first, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  try {
    ggml_to_f32(type, b.data(), b.size(), first, n, y.data(), "model.gguf", "blk.0.attn_q.weight");
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(GgmlDequant, Q4_1HandBuiltBlocks) {
  EXPECT_EQ(convert(kQ4_1, q4_1_blocks(), 0, 64), q4_1_expected());
  // A block range: the second block alone.
  const std::vector<float> all = q4_1_expected();
  EXPECT_EQ(convert(kQ4_1, q4_1_blocks(), 32, 32), std::vector<float>(all.begin() + 32, all.end()));
}

TEST(GgmlDequant, Q8_0HandBuiltBlocks) {
  EXPECT_EQ(convert(kQ8_0, q8_0_blocks(), 0, 64), q8_0_expected());
  const std::vector<float> all = q8_0_expected();
  EXPECT_EQ(convert(kQ8_0, q8_0_blocks(), 32, 32), std::vector<float>(all.begin() + 32, all.end()));
}

TEST(GgmlDequant, PlainFloatTypes) {
  std::vector<uint8_t> f32(8);
  const float v[2] = {1.5f, -0.25f};
  std::memcpy(f32.data(), v, 8);
  EXPECT_EQ(convert(kF32, f32, 0, 2), (std::vector<float>{1.5f, -0.25f}));
  std::vector<uint8_t> f16;
  put16(f16, kOne);
  put16(f16, kMinusTwo);
  put16(f16, 0x3555);  // 0x3555 = 1 + 341/1024 scaled by 2^-2
  EXPECT_EQ(convert(kF16, f16, 1, 2), (std::vector<float>{-2.f, (1.f + 341.f / 1024.f) / 4.f}));
  std::vector<uint8_t> bf16;
  put16(bf16, 0x3fc0);  // 1.5
  put16(bf16, 0xc120);  // -10
  EXPECT_EQ(convert(kBF16, bf16, 0, 2), (std::vector<float>{1.5f, -10.f}));
}

TEST(GgmlDequant, WhichTypesAreRead) {
  for (uint32_t t : {kF32, kF16, kBF16, kQ4_0, kQ4_1, 6u, 7u, kQ8_0, 10u, 11u, kQ4_K, 13u, 14u})
    EXPECT_TRUE(ggml_dequantizable(t)) << t;
  for (uint32_t t : {kQ8_K, kIQ2_XXS, 4u, 77u}) EXPECT_FALSE(ggml_dequantizable(t)) << t;
}

TEST(GgmlDequant, UnsupportedTypeNamesFileTensorAndType) {
  const std::string e = error_of(kIQ2_XXS, std::vector<uint8_t>(66), 0, 256);
  EXPECT_NE(e.find("model.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("blk.0.attn_q.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("IQ2_XXS"), std::string::npos) << e;
  EXPECT_NE(error_of(kQ8_K, std::vector<uint8_t>(292), 0, 256).find("Q8_K"), std::string::npos);
}

TEST(GgmlDequant, TruncatedDataIsAnError) {
  std::vector<uint8_t> b = q4_1_blocks();
  b.pop_back();  // 39 bytes: the second block is cut short
  const std::string e = error_of(kQ4_1, b, 0, 64);
  EXPECT_NE(e.find("model.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("blk.0.attn_q.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("39 bytes"), std::string::npos) << e;
  const std::vector<float> all = q4_1_expected();
  EXPECT_EQ(convert(kQ4_1, b, 0, 32), std::vector<float>(all.begin(), all.begin() + 32));  // the whole first block
  EXPECT_NE(error_of(kQ8_0, q8_0_blocks(), 32, 64).find("68 bytes"), std::string::npos);
  EXPECT_NE(error_of(kF32, std::vector<uint8_t>(7), 0, 2).find("7 bytes"), std::string::npos);
}

TEST(GgmlDequant, RangesMustBeWholeBlocks) {
  const std::string e = error_of(kQ4_1, q4_1_blocks(), 16, 32);
  EXPECT_NE(e.find("block boundary"), std::string::npos) << e;
  EXPECT_NE(error_of(kQ8_0, q8_0_blocks(), 0, 40).find("block boundary"), std::string::npos);
}

}  // namespace
}  // namespace hessq::io
