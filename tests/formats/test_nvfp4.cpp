// NVFP4: hand-computed blocks (E4M3 block scale, E2M1 codes with ties to even), the global scale,
// zero blocks, 16x16 tiles, the reference-compatibility mode (e4m3_sim) and zero padding.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "format_test_util.hpp"
#include "hessq/formats/nvfp4.hpp"
#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {
namespace {

std::vector<float> fq(const std::string& name, const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> out(x.size());
  fake_quant(parse_spec(name), x.data(), rows, cols, out.data());
  return out;
}

// One row of three blocks; tensor amax 2688 = 6 * 448 makes the global scale g exactly 1.
//  block 0: amax 2688 -> s = E4M3(448) = 448; x/s = 6, 0.67, 0.22, -2.23 -> 6, 0.5, 0, -2
//  block 1: amax 12 -> s = E4M3(2) = 2; x/2 has ties 0.25 -> 0, 2.5 -> 2, -3.5 -> -4, 1.75 -> 2
//  block 2: amax 0.7 -> s = E4M3(0.11667): step 2^-7 in [2^-4, 2^-3), 14.93 -> 15/128;
//           x/s = 5.97, 2.56, -0.85 -> 6, 3, -1
TEST(Nvfp4, HandComputedBlocks) {
  std::vector<float> x(48, 0.0f);
  const float b0[] = {2688, 300, 100, -1000};
  const float b1[] = {12, -3, 1, 0.5f, 5, -7, 3.5f, 0, 0.2f, 2.2f, 9, -11, 7.9f, 1.4f, 0.6f, -0.4f};
  const float b2[] = {0.7f, 0.3f, -0.1f};
  std::copy(b0, b0 + 4, x.begin());
  std::copy(b1, b1 + 16, x.begin() + 16);
  std::copy(b2, b2 + 3, x.begin() + 32);
  std::vector<float> expected(48, 0.0f);
  const float e0[] = {2688, 224, 0, -896};
  const float e1[] = {12, -3, 1, 0, 4, -8, 4, 0, 0, 2, 8, -12, 8, 1, 1, -0.0f};
  const float s2 = 15.0f / 128.0f;
  const float e2[] = {6 * s2, 3 * s2, -1 * s2};
  std::copy(e0, e0 + 4, expected.begin());
  std::copy(e1, e1 + 16, expected.begin() + 16);
  std::copy(e2, e2 + 3, expected.begin() + 32);
  EXPECT_EQ(fq("nvfp4", x, 1, 48), expected);

  const Packed pk = pack(parse_spec("nvfp4"), x.data(), 1, 48);
  EXPECT_EQ(pk.global_scale, 1.0f);
  EXPECT_EQ(pk.scale_dtype, "F8_E4M3");
  // E4M3 bytes: 448 = 0.1111.110, 2 = 0.1000.000, 15/128 = 1.875 * 2^-4 = 0.0011.111
  EXPECT_EQ(pk.scales, (std::vector<uint8_t>{0x7E, 0x40, 0x1F}));
  ASSERT_EQ(pk.codes.size(), 24u);
  EXPECT_EQ(pk.codes[0], 0x17);  // codes 7 (6), 1 (0.5)
  EXPECT_EQ(pk.codes[1], 0xC0);  // codes 0, 12 (-2)
}

TEST(Nvfp4, GlobalScaleMapsTensorAmaxToE4M3Max) {
  const int64_t rows = 8, cols = 64;
  std::vector<float> x = test::random_matrix(rows, cols, 21);
  float amax = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < rows * cols; ++i)
    if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), at = i;
  const Packed pk = pack(parse_spec("nvfp4"), x.data(), rows, cols);
  EXPECT_EQ(pk.global_scale, amax / 2688.0f);
  EXPECT_EQ(pk.scales[at / 16], 0x7E);  // the block holding the amax uses the top E4M3 scale
  const std::vector<float> y = fq("nvfp4", x, rows, cols);
  EXPECT_NEAR(std::fabs(y[at]), amax, amax * 1e-6);  // 6 * 448 * g = amax up to float rounding
  EXPECT_EQ(num_scales(parse_spec("nvfp4"), rows, cols), rows * cols / 16);
}

TEST(Nvfp4, ZeroBlocksAndZeroTensor) {
  std::vector<float> x(32, 0.0f);
  x[1] = -0.0f;
  x[20] = 1.0f;
  for (const char* name : {"nvfp4", "nvfp4-ref-1d"}) {
    const Packed pk = pack(parse_spec(name), x.data(), 1, 32);
    const std::vector<float> y = fq(name, x, 1, 32);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(y[i], 0.0f) << name;
    for (int i = 0; i < 8; ++i) EXPECT_EQ(pk.codes[i], 0) << name;
    if (std::string(name) == "nvfp4") { EXPECT_EQ(pk.scales[0], 0); }
  }
  const std::vector<float> z(16 * 16, 0.0f);
  for (const char* name : {"nvfp4", "nvfp4-2d", "nvfp4-ref", "nvfp4-ref-1d"}) {
    const std::vector<float> y = fq(name, z, 16, 16);
    for (float v : y) ASSERT_EQ(v, 0.0f) << name;
    EXPECT_EQ(pack(parse_spec(name), z.data(), 16, 16).global_scale, 1.0f);
  }
}

// 16x16 tiles: one scale per tile, shared by its 16 rows. x[0][16] = 1.3 sits in tile (0, 1) whose
// amax 12 (row 15) gives s = 2: 1.3/2 = 0.65 -> 0.5 -> 1.0. With 1x16 blocks its own block has amax
// 1.3: s = E4M3(0.21667) = 14/64 = 0.21875, 1.3/s = 5.94 -> 6 -> 1.3125.
TEST(Nvfp4, TilesShareScalesAcross16Rows) {
  const int64_t n = 32;
  std::vector<float> x(n * n, 0.0f);
  x[5 * n + 3] = 2688.0f;  // g = 1
  x[15 * n + 20] = 12.0f;
  x[0 * n + 16] = 1.3f;
  x[20 * n + 16] = 1.3f;  // tile (1, 1): alone, like a 1x16 block
  const std::vector<float> y2 = fq("nvfp4-2d", x, n, n), y1 = fq("nvfp4", x, n, n);
  EXPECT_EQ(y2[0 * n + 16], 1.0f);
  EXPECT_EQ(y1[0 * n + 16], 1.3125f);
  EXPECT_EQ(y2[20 * n + 16], 1.3125f);
  EXPECT_EQ(y2[15 * n + 20], 12.0f);
  const Packed pk = pack(parse_spec("nvfp4-2d"), x.data(), n, n);
  EXPECT_EQ(pk.scales, (std::vector<uint8_t>{0x7E, 0x40, 0x00, 0x26}));  // 448, 2, 0, 0.21875 = 1.75 * 2^-3
  EXPECT_EQ(num_scales(parse_spec("nvfp4-2d"), n, n), 4);
  EXPECT_EQ(num_scales(parse_spec("nvfp4"), n, n), 64);
}

TEST(Nvfp4, E4m3SimExamples) {
  EXPECT_EQ(e4m3_sim(0.3f), 0.3125f);         // floor(log2 0.3) = -2: 0.3 / 2^-5 = 9.6 -> 10 -> 10/32
  EXPECT_EQ(e4m3_sim(448.0f), 448.0f);
  EXPECT_EQ(e4m3_sim(1000.0f), 1024.0f);      // 1000 / 2^6 = 15.6 -> 16: no saturation at 448
  EXPECT_EQ(e4m3_sim(0x1.0p-12f), 0x1.0p-12f);  // no subnormal flush (E4M3 would give 0)
  EXPECT_EQ(e4m3_sim(0x1.3p-12f), 0x1.4p-12f);  // 1.1875 * 2^-12: 9.5 -> 10 (ties to even)
  EXPECT_EQ(e4m3_sim(1.0625f), 1.0f);         // 8.5 -> 8 (ties to even)
  EXPECT_EQ(e4m3_sim(0.0f), 0.0f);
  EXPECT_EQ(e4m3_sim(std::nextafter(2.0f, 0.0f)), 2.0f);  // just below a power of two rounds up to it
}

// Reference mode, 1x16: block amax 1.8 -> s = e4m3_sim(0.3) = 0.3125, no global scale;
// x/s = 5.76, 1.6, -3.2 -> 6, 1.5, -3.
TEST(Nvfp4, ReferenceModeHandExample) {
  std::vector<float> x(16, 0.0f);
  x[0] = 1.8f, x[1] = 0.5f, x[2] = -1.0f;
  const std::vector<float> y = fq("nvfp4-ref-1d", x, 1, 16);
  EXPECT_EQ(y[0], 6 * 0.3125f);
  EXPECT_EQ(y[1], 1.5f * 0.3125f);
  EXPECT_EQ(y[2], -3 * 0.3125f);
  const Packed pk = pack(parse_spec("nvfp4-ref-1d"), x.data(), 1, 16);
  EXPECT_EQ(pk.scale_dtype, "F32");
  EXPECT_EQ(pk.global_scale, 1.0f);
  const std::vector<uint8_t> f32_0p3125 = {0x00, 0x00, 0xA0, 0x3E};  // 0x3EA00000
  EXPECT_EQ(pk.scales, f32_0p3125);
  // The tensor amax does not matter in reference mode (no global scale): a huge value elsewhere
  // leaves this block alone, unlike plain nvfp4.
  std::vector<float> x2 = x;
  x2.resize(32, 0.0f);
  x2[16] = 1e4f;
  const std::vector<float> y2 = fq("nvfp4-ref-1d", x2, 1, 32);
  EXPECT_EQ(std::vector<float>(y2.begin(), y2.begin() + 16), y);
  // Weights ("nvfp4-ref") use 16x16 tiles, activations 1x16 (activation_spec).
  EXPECT_EQ(parse_spec("nvfp4-ref").granularity, Granularity::Tile2D);
  EXPECT_EQ(activation_spec(parse_spec("nvfp4-ref")).name(), "nvfp4-ref-1d");
  EXPECT_EQ(activation_spec(parse_spec("nvfp4-2d")).name(), "nvfp4");
}

// Dims that are not multiples of 16: identical to zero-padding, quantizing and dropping the padding.
TEST(Nvfp4, PartialBlocksEqualZeroPadding) {
  const int64_t rows = 21, cols = 37, pr = 32, pc = 48;
  const std::vector<float> x = test::random_matrix(rows, cols, 31);
  std::vector<float> padded(pr * pc, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) padded[r * pc + c] = x[r * cols + c];
  for (const char* name : {"nvfp4", "nvfp4-2d", "nvfp4-ref", "nvfp4-ref-1d"}) {
    SCOPED_TRACE(name);
    const std::vector<float> y = fq(name, x, rows, cols), yp = fq(name, padded, pr, pc);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[r * cols + c], yp[r * pc + c]) << r << "," << c;
    const QuantSpec spec = parse_spec(name);
    EXPECT_EQ(num_scales(spec, rows, cols), spec.granularity == Granularity::Tile2D ? 2 * 3 : rows * 3);
    EXPECT_EQ(pack(spec, x.data(), rows, cols).codes.size(), static_cast<size_t>(rows * 19));  // ceil(37/2) bytes a row
  }
}

}  // namespace
}  // namespace hessq::formats
