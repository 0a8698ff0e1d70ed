// ggml block layouts against hand-built blocks: each test writes a block's bytes field by field from
// the published layout (ggml-common.h; the diagram in ggml_blocks.hpp) and the expected values from
// the layout's formula, written out here per element, plus a few values computed by hand. The scales
// are powers of two, so every expected value is exact and compared with ==.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_blocks.hpp"

namespace hessq::formats {
namespace {

void put_u16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v & 0xff);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}

// f16 bit patterns of the scales used below.
constexpr uint16_t kHalf = 0x3800, kQuarter = 0x3400, kEighth = 0x3000, kOne = 0x3c00, kTwo = 0x4000,
                   kMinusOne = 0xbc00;

std::vector<float> dequant(GgmlType t, const std::vector<uint8_t>& b) {
  std::vector<float> y(static_cast<size_t>(ggml_block_shape(t).block));
  ggml_dequantize(t, b.data(), static_cast<int64_t>(y.size()), y.data());
  return y;
}

TEST(GgmlBlocks, Q4_0) {
  std::vector<uint8_t> b(18);
  put_u16(b, 0, kHalf);  // d = 0.5
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequant(GgmlType::kQ4_0, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * static_cast<float>(j - 8));        // low nibble j
    EXPECT_EQ(y[j + 16], 0.5f * static_cast<float>(7 - j));   // high nibble 15 - j
  }
  EXPECT_EQ(y[0], -4.0f);
  EXPECT_EQ(y[16], 3.5f);
}

TEST(GgmlBlocks, Q4_1) {
  std::vector<uint8_t> b(20);
  put_u16(b, 0, kQuarter);   // d = 0.25
  put_u16(b, 2, kMinusOne);  // m = -1
  for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(j | ((j ^ 5) << 4));
  const auto y = dequant(GgmlType::kQ4_1, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * static_cast<float>(j) - 1.0f);
    EXPECT_EQ(y[j + 16], 0.25f * static_cast<float>(j ^ 5) - 1.0f);
  }
  EXPECT_EQ(y[31], 1.5f);  // code 15 ^ 5 = 10: 2.5 - 1
}

// Q5_0 / Q5_1: the fifth bit of element j is bit j of the little-endian u32 qh.
void fill_q5(std::vector<uint8_t>& b, size_t qh_at) {
  const uint32_t qh = 0xA5A55A5Au;
  std::memcpy(b.data() + qh_at, &qh, 4);
  for (int j = 0; j < 16; ++j) b[qh_at + 4 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
}
int q5_code(int j) {
  const uint32_t qh = 0xA5A55A5Au;
  const int nib = j < 16 ? j : 15 - (j - 16);
  return nib | static_cast<int>(((qh >> j) & 1u) << 4);
}

TEST(GgmlBlocks, Q5_0) {
  std::vector<uint8_t> b(22);
  put_u16(b, 0, kOne);
  fill_q5(b, 2);
  const auto y = dequant(GgmlType::kQ5_0, b);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], static_cast<float>(q5_code(j) - 16)) << j;
  EXPECT_EQ(y[1], 1.0f);    // nibble 1, qh bit 1 = 1: 17 - 16
  EXPECT_EQ(y[0], -16.0f);  // nibble 0, qh bit 0 = 0
}

TEST(GgmlBlocks, Q5_1) {
  std::vector<uint8_t> b(24);
  put_u16(b, 0, kHalf);
  put_u16(b, 2, kTwo);
  fill_q5(b, 4);
  const auto y = dequant(GgmlType::kQ5_1, b);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.5f * static_cast<float>(q5_code(j)) + 2.0f) << j;
  EXPECT_EQ(y[31], 10.0f);  // nibble 0, qh bit 31 = 1: 16 * 0.5 + 2
}

TEST(GgmlBlocks, Q8_0) {
  std::vector<uint8_t> b(34);
  put_u16(b, 0, kEighth);
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(8 * j - 128));
  const auto y = dequant(GgmlType::kQ8_0, b);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], static_cast<float>(j - 16));
}

// K-quants: element e = 128 h + 32 k + l.
TEST(GgmlBlocks, Q2_K) {
  std::vector<uint8_t> b(84);
  for (int s = 0; s < 16; ++s) b[s] = static_cast<uint8_t>((s & 15) | (((3 * s) & 15) << 4));
  for (int i = 0; i < 64; ++i) b[16 + i] = static_cast<uint8_t>(37 * i + 11);
  put_u16(b, 80, kHalf);     // d
  put_u16(b, 82, kQuarter);  // dmin
  const auto y = dequant(GgmlType::kQ2_K, b);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32, s = e / 16;
    const int q = (b[16 + 32 * h + l] >> (2 * k)) & 3;
    EXPECT_EQ(y[e], 0.5f * static_cast<float>(s & 15) * static_cast<float>(q) -
                        0.25f * static_cast<float>((3 * s) & 15)) << e;
  }
  // e = 33: h 0, k 1, l 1: qs[1] = 48 = 0b110000 -> (48 >> 2) & 3 = 0; s = 2: 0 - 0.25 * 6
  EXPECT_EQ(y[33], -1.5f);
}

TEST(GgmlBlocks, Q3_K) {
  std::vector<uint8_t> b(110);
  for (int i = 0; i < 32; ++i) b[i] = static_cast<uint8_t>(0x5A ^ (7 * i));  // hmask
  for (int i = 0; i < 64; ++i) b[32 + i] = static_cast<uint8_t>(29 * i + 3);  // qs
  // 6-bit scale codes c_s = 32 + (s - 8) * 3 (so scale - 32 runs over -24..21), split as the layout says.
  int code[16];
  for (int s = 0; s < 16; ++s) code[s] = 32 + (s - 8) * 3;
  for (int s = 0; s < 16; ++s) {
    if (s < 8) b[96 + s] |= static_cast<uint8_t>(code[s] & 15);
    else b[96 + s - 8] |= static_cast<uint8_t>((code[s] & 15) << 4);
    b[96 + 8 + s % 4] |= static_cast<uint8_t>((code[s] >> 4) << (2 * (s / 4)));
  }
  put_u16(b, 108, kQuarter);
  const auto y = dequant(GgmlType::kQ3_K, b);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32, s = e / 16;
    const int low = (b[32 + 32 * h + l] >> (2 * k)) & 3;
    const bool high = (b[l] >> (e / 32)) & 1;
    const float scale = 0.25f * static_cast<float>(code[s] - 32);
    EXPECT_EQ(y[e], scale * static_cast<float>(low - (high ? 0 : 4))) << e;
  }
  // e = 0: qs[0] = 3 -> low 3; hmask[0] = 0x5A bit 0 = 0 -> q = -1; scale 0.25 * -24 = -6
  EXPECT_EQ(y[0], 6.0f);
}

// Q4_K / Q5_K scales: s < 4 in the low 6 bits of bytes s (scale) and s + 4 (min); s >= 4 in the
// nibbles of byte s + 4 with the high 2 bits in the top bits of bytes s - 4 (scale) and s (min).
void fill_k4_scales(std::vector<uint8_t>& b, const int* sc, const int* mn) {
  for (int s = 0; s < 8; ++s) {
    if (s < 4) {
      b[4 + s] |= static_cast<uint8_t>(sc[s]);
      b[4 + s + 4] |= static_cast<uint8_t>(mn[s]);
    } else {
      b[4 + s + 4] |= static_cast<uint8_t>((sc[s] & 15) | ((mn[s] & 15) << 4));
      b[4 + s - 4] |= static_cast<uint8_t>((sc[s] >> 4) << 6);
      b[4 + s] |= static_cast<uint8_t>((mn[s] >> 4) << 6);
    }
  }
}

TEST(GgmlBlocks, Q4_K) {
  std::vector<uint8_t> b(144);
  put_u16(b, 0, kEighth);   // d
  put_u16(b, 2, kQuarter);  // dmin
  const int sc[8] = {1, 63, 17, 40, 5, 50, 33, 62}, mn[8] = {0, 2, 63, 20, 48, 7, 31, 16};
  fill_k4_scales(b, sc, mn);
  for (int i = 0; i < 128; ++i) b[16 + i] = static_cast<uint8_t>(53 * i + 7);
  const auto y = dequant(GgmlType::kQ4_K, b);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, w = e % 64, s = e / 32;
    const int q = w < 32 ? b[16 + 32 * c + w] & 15 : b[16 + 32 * c + w - 32] >> 4;
    EXPECT_EQ(y[e], 0.125f * static_cast<float>(sc[s]) * static_cast<float>(q) - 0.25f * static_cast<float>(mn[s]))
        << e;
  }
  // e = 160: c 2, w 32 -> high nibble of qs[64] = (53 * 64 + 7) & 255 = 71 = 0x47 -> 4; s 5: 6.25 * 4 - 1.75
  EXPECT_EQ(y[160], 23.25f);
}

TEST(GgmlBlocks, Q5_K) {
  std::vector<uint8_t> b(176);
  put_u16(b, 0, kQuarter);
  put_u16(b, 2, kHalf);
  const int sc[8] = {63, 1, 2, 3, 60, 33, 16, 47}, mn[8] = {5, 63, 0, 32, 17, 48, 2, 9};
  fill_k4_scales(b, sc, mn);
  for (int i = 0; i < 32; ++i) b[16 + i] = static_cast<uint8_t>(0xC3 ^ (11 * i));  // qh
  for (int i = 0; i < 128; ++i) b[48 + i] = static_cast<uint8_t>(71 * i + 2);      // qs
  const auto y = dequant(GgmlType::kQ5_K, b);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, w = e % 64, s = e / 32;
    const int low = w < 32 ? b[48 + 32 * c + w] & 15 : b[48 + 32 * c + w - 32] >> 4;
    const int high = (b[16 + w % 32] >> (2 * c + (w >= 32 ? 1 : 0))) & 1;
    EXPECT_EQ(y[e], 0.25f * static_cast<float>(sc[s]) * static_cast<float>(low + 16 * high) -
                        0.5f * static_cast<float>(mn[s])) << e;
  }
  // e = 0: qs[0] = 2, qh[0] = 0xC3 bit 0 = 1 -> q = 18; 0.25 * 63 * 18 - 2.5
  EXPECT_EQ(y[0], 281.0f);
}

TEST(GgmlBlocks, Q6_K) {
  std::vector<uint8_t> b(210);
  for (int i = 0; i < 128; ++i) b[i] = static_cast<uint8_t>(91 * i + 5);         // ql
  for (int i = 0; i < 64; ++i) b[128 + i] = static_cast<uint8_t>(45 * i + 17);   // qh
  for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(9 * s - 70));
  put_u16(b, 208, kEighth);
  const auto y = dequant(GgmlType::kQ6_K, b);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const int low = (b[64 * h + l + 32 * (k % 2)] >> (k < 2 ? 0 : 4)) & 15;
    const int high = (b[128 + 32 * h + l] >> (2 * k)) & 3;
    const float scale = 0.125f * static_cast<float>(9 * (e / 16) - 70);
    EXPECT_EQ(y[e], scale * static_cast<float>((low | (high << 4)) - 32)) << e;
  }
  // e = 0: ql[0] = 5, qh[0] = 17 -> bits 0-1 = 1 -> q = 21 - 32 = -11; scale 0.125 * -70
  EXPECT_EQ(y[0], 96.25f);
}

TEST(GgmlBlocks, CodesRoundTripThroughTheLayout) {
  // Every code of every element, stored into a zeroed block and read back.
  for (uint32_t id : {2u, 3u, 6u, 7u, 8u, 10u, 11u, 12u, 13u, 14u}) {
    const GgmlType t = ggml_block_type(id);
    const GgmlBlockShape s = ggml_block_shape(t);
    SCOPED_TRACE(ggml_type_name(id));
    std::vector<uint8_t> b(static_cast<size_t>(s.bytes));
    for (int j = 0; j < s.block; ++j) {
      const int code = s.qmin + (j * 7 + 3) % (s.qmax - s.qmin + 1);
      ggml_set_block_code(t, b.data(), j, code);
    }
    for (int j = 0; j < s.block; ++j) EXPECT_EQ(ggml_block_code(t, b.data(), j), s.qmin + (j * 7 + 3) % (s.qmax - s.qmin + 1));
  }
}

TEST(GgmlBlocks, RefusesPartialBlocksAndOtherTypes) {
  std::vector<uint8_t> b(1024);
  std::vector<float> y(512);
  try {
    ggml_dequantize(GgmlType::kQ4_K, b.data(), 100, y.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("256-element blocks"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ggml_dequantize(GgmlType::kQ8_0, b.data(), 48, y.data()), Error);
  EXPECT_THROW(ggml_dequantize(GgmlType::kF16, b.data(), 32, y.data()), Error);
}

}  // namespace
}  // namespace hessq::formats
