// MXFP4 / MXFP8: hand-computed blocks, the power-of-two E8M0 scale rule, element saturation, zero
// blocks and zero padding of a partial trailing block.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "format_test_util.hpp"
#include "hessq/formats/mx.hpp"
#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {
namespace {

std::vector<float> fq(const std::string& name, const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> out(x.size());
  fake_quant(parse_spec(name), x.data(), rows, cols, out.data());
  return out;
}

// MXFP4, three blocks of 32:
//  amax 5: e = floor(log2 5) - 2 = 0, scale 1: 5 -> 4 (tie), -3.3 -> -3, 0.3 -> 0.5, 1.25 -> 1 (tie)
//  amax 7.5: e = 0 too, 7.5 saturates to 6
//  amax 0.1: e = -4 - 2 = -6: 0.1 * 64 = 6.4 -> 6, 0.03 * 64 = 1.92 -> 2
TEST(Mx, Fp4HandExample) {
  std::vector<float> x(96, 0.0f);
  x[0] = 5, x[1] = -3.3f, x[2] = 0.3f, x[3] = 1.25f;
  x[32] = 7.5f, x[33] = -2.9f;
  x[64] = 0.1f, x[65] = 0.03f;
  std::vector<float> expected(96, 0.0f);
  expected[0] = 4, expected[1] = -3, expected[2] = 0.5f, expected[3] = 1;
  expected[32] = 6, expected[33] = -3;
  expected[64] = 6.0f / 64, expected[65] = 2.0f / 64;
  EXPECT_EQ(fq("mxfp4", x, 1, 96), expected);
  const Packed pk = pack(parse_spec("mxfp4"), x.data(), 1, 96);
  EXPECT_EQ(pk.scale_dtype, "E8M0");
  EXPECT_EQ(pk.scales, (std::vector<uint8_t>{127, 127, 121}));
  EXPECT_EQ(pk.codes[0], 0xD6);  // codes 6 (4), 13 (-3)
  EXPECT_EQ(pk.codes[16], 0xD7);  // codes 7 (6, saturated), 13 (-3)
}

// MXFP8: amax 500: e = 8 - 8 = 0: 500 saturates to 448, 300 -> 288 (step 32), 1.3 -> 1.25 (step 1/8),
// -0.001 -> -2^-9 (E4M3 subnormal step 2^-9: 0.512 steps rounds to 1).
TEST(Mx, Fp8HandExample) {
  std::vector<float> x(32, 0.0f);
  x[0] = 500, x[1] = 300, x[2] = 1.3f, x[3] = -0.001f;
  const std::vector<float> y = fq("mxfp8", x, 1, 32);
  EXPECT_EQ(y[0], 448.0f);
  EXPECT_EQ(y[1], 288.0f);
  EXPECT_EQ(y[2], 1.25f);
  EXPECT_EQ(y[3], -0x1.0p-9f);
}

TEST(Mx, ScaleIsPowerOfTwoFromBlockAmax) {
  const int64_t rows = 16, cols = 256;
  const std::vector<float> x = test::random_matrix(rows, cols, 41);
  for (const char* name : {"mxfp4", "mxfp8"}) {
    SCOPED_TRACE(name);
    const int emax = std::string(name) == "mxfp4" ? 2 : 8;
    const Packed pk = pack(parse_spec(name), x.data(), rows, cols);
    ASSERT_EQ(pk.scales.size(), static_cast<size_t>(rows * cols / 32));
    const std::vector<float> y = fq(name, x, rows, cols);
    for (int64_t b = 0; b < rows * cols / 32; ++b) {
      float amax = 0;
      for (int64_t i = b * 32; i < b * 32 + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
      const double scale = std::ldexp(1.0, pk.scales[b] - 127);
      EXPECT_EQ(mx_scale_value(pk.scales[b]), static_cast<float>(scale));
      EXPECT_GE(amax / scale, std::ldexp(1.0, emax));      // 2^(floor(log2 amax) - emax) exactly
      EXPECT_LT(amax / scale, std::ldexp(1.0, emax + 1));
      for (int64_t i = b * 32; i < b * 32 + 32; ++i) {
        const double q = y[i] / scale;  // on the element grid, within the element max
        EXPECT_LE(std::fabs(q), emax == 2 ? 6.0 : 448.0);
      }
    }
  }
}

TEST(Mx, ZeroBlockAndPadding) {
  std::vector<float> x(64, 0.0f);
  x[40] = 1.0f;
  const Packed pk = pack(parse_spec("mxfp4"), x.data(), 1, 64);
  EXPECT_EQ(pk.scales[0], 0);  // [choice] zero block: 2^-127, codes 0
  for (int i = 0; i < 16; ++i) EXPECT_EQ(pk.codes[i], 0);
  const int64_t rows = 5, cols = 40, pc = 64;
  const std::vector<float> r = test::random_matrix(rows, cols, 43);
  std::vector<float> padded(rows * pc, 0.0f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < cols; ++c) padded[i * pc + c] = r[i * cols + c];
  for (const char* name : {"mxfp4", "mxfp8"}) {
    const std::vector<float> y = fq(name, r, rows, cols), yp = fq(name, padded, rows, pc);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[i * cols + c], yp[i * pc + c]) << name;
    EXPECT_EQ(num_scales(parse_spec(name), rows, cols), rows * 2);
  }
}

}  // namespace
}  // namespace hessq::formats
