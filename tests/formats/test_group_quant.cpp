// INT-b, FP4 and FP8 with per-tensor/row/group scales: hand-computed METHODS.md examples, code
// containers, zero groups, clip search, group independence and the GPTQ building blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "format_test_util.hpp"
#include "hessq/core/error.hpp"
#include "hessq/formats/int_quant.hpp"
#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {
namespace {

std::vector<float> fq(const std::string& name, const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> out(x.size());
  fake_quant(parse_spec(name), x.data(), rows, cols, out.data());
  return out;
}

// int4 sym of [0.5, -1, 0.25, 0.7]: s = 1/7 -> F16 1170 * 2^-13 = 0.142822265625;
// x/s = 3.5009, -7.0017, 1.7504, 4.9012 -> q = 4, -7, 2, 5.
TEST(IntQuant, SymmetricHandExample) {
  const std::vector<float> x = {0.5f, -1.0f, 0.25f, 0.7f};
  const float s = 1170.0f / 8192.0f;
  const IntParams p = int_params(x.data(), 4, 4, true);
  EXPECT_EQ(p.scale, s);
  EXPECT_EQ(p.zero, 0.0f);
  const std::vector<float> expected = {4 * s, -7 * s, 2 * s, 5 * s};
  EXPECT_EQ(fq("int4", x, 1, 4), expected);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(int_quant_dequant(x[i], p, 4, true), expected[i]);
  const Packed pk = pack(parse_spec("int4"), x.data(), 1, 4);
  EXPECT_EQ(pk.scale_dtype, "F16");
  EXPECT_EQ(pk.codes, (std::vector<uint8_t>{0x94, 0x52}));  // nibbles 4, -7 = 0x9, 2, 5; low first
  EXPECT_EQ(pk.scales, (std::vector<uint8_t>{0x92, 0x30}));  // F16 0x3092 = 1170 * 2^-13
  EXPECT_TRUE(pk.zeros.empty());
  const Packed pk8 = pack(parse_spec("int8"), x.data(), 1, 4);
  // int8: s = F16(1/127); q = round(x/s) = 63 or 64, -127, 32, 89 as signed bytes
  const float s8 = int_params(x.data(), 4, 8, true).scale;
  EXPECT_EQ(s8, 0.00787353515625f);  // F16 nearest to 1/127 = 0.0078740...: 1032 * 2^-17
  EXPECT_EQ(pk8.codes, (std::vector<uint8_t>{64, static_cast<uint8_t>(-127), 32, 89}));
}

// int4 asym of [-1, 0.5, 2, 1]: s = 3/15 -> F16 0.199951171875, z = round(5.0012) = 5,
// q = clamp(round(x/s) + 5) = 0, 8, 15, 10.
TEST(IntQuant, AsymmetricHandExample) {
  const std::vector<float> x = {-1.0f, 0.5f, 2.0f, 1.0f};
  const float s = 3276.0f / 16384.0f;
  const IntParams p = int_params(x.data(), 4, 4, false);
  EXPECT_EQ(p.scale, s);
  EXPECT_EQ(p.zero, 5.0f);
  const std::vector<float> expected = {-5 * s, 3 * s, 10 * s, 5 * s};
  EXPECT_EQ(fq("int4-asym", x, 1, 4), expected);
  const Packed pk = pack(parse_spec("int4-asym"), x.data(), 1, 4);
  EXPECT_EQ(pk.codes, (std::vector<uint8_t>{0x80, 0xAF}));
  EXPECT_EQ(pk.zeros, (std::vector<uint8_t>{5}));
}

// The asymmetric range always contains 0 (GPTQ): an all-positive group has z = 0.
TEST(IntQuant, AsymmetricRangeIncludesZero) {
  const std::vector<float> x = {1.0f, 2.0f, 3.0f, 1.5f};
  const IntParams p = int_params(x.data(), 4, 3, false);
  EXPECT_EQ(p.zero, 0.0f);
  EXPECT_EQ(p.scale, 1755.0f / 4096.0f);  // F16(3/7): 1755 * 2^-12
  EXPECT_EQ(int_quant_dequant(0.0f, p, 3, false), 0.0f);
}

TEST(IntQuant, ZeroGroupGetsScaleOneAndZeroCodes) {
  const std::vector<float> x = {1.0f, -2.0f, 0.5f, 0.25f, 0.0f, 0.0f, -0.0f, 0.0f};
  for (const char* name : {"int4-g4", "int4-asym-g4", "fp4-g4", "fp8-e4m3-g4"}) {
    SCOPED_TRACE(name);
    const QuantSpec spec = parse_spec(name);
    const std::vector<float> y = fq(name, x, 1, 8);
    for (int i = 4; i < 8; ++i) EXPECT_EQ(y[i], 0.0f);
    const Packed pk = pack(spec, x.data(), 1, 8);
    const IntParams p = group_params(spec, x.data() + 4, 4);
    EXPECT_EQ(p.scale, 1.0f);
    EXPECT_EQ(p.zero, 0.0f);
  }
}

// fp4 of [3, -1, 0.2, 1.4]: s = F16(3/6) = 0.5, x/s = 6, -2, 0.4, 2.8 -> 6, -2, 0.5, 3.
TEST(Fp4Scaled, HandExample) {
  EXPECT_EQ(fq("fp4", {3.0f, -1.0f, 0.2f, 1.4f}, 1, 4), (std::vector<float>{3.0f, -1.0f, 0.25f, 1.5f}));
  const Packed pk = pack(parse_spec("fp4"), std::vector<float>{3.0f, -1.0f, 0.2f, 1.4f}.data(), 1, 4);
  EXPECT_EQ(pk.codes, (std::vector<uint8_t>{0xC7, 0x51}));  // codes 7, 12 (-2), 1, 5
}

// fp8-e4m3 of [2, 1, -0.3]: s = 2/448, x/s = 448, 224, -67.2 -> 448, 224, -64 (E4M3 step 8 in [64, 128)).
TEST(Fp8Scaled, HandExample) {
  const float s = 2.0f / 448.0f;
  EXPECT_EQ(fq("fp8-e4m3", {2.0f, 1.0f, -0.3f}, 1, 3), (std::vector<float>{448 * s, 224 * s, -64 * s}));
  const Packed pk = pack(parse_spec("fp8-e4m3"), std::vector<float>{2.0f, 1.0f, -0.3f}.data(), 1, 3);
  EXPECT_EQ(pk.scale_dtype, "F32");
  EXPECT_EQ(pk.codes, (std::vector<uint8_t>{0x7E, 0x76, 0xE8}));  // 448, 224 = 0.1110.110, -64 = 1.1101.000 (0xE8)
}

TEST(IntQuant, ClipSaturatesAndUsesTheNegativeEndCode) {
  const std::vector<float> x = {7.0f, -7.0f, 1.0f, 0.0f};
  const IntParams p = int_params(x.data(), 4, 4, true, 0.5f);  // s = F16(3.5/7) = 0.5
  EXPECT_EQ(p.scale, 0.5f);
  EXPECT_EQ(int_quant_dequant(7.0f, p, 4, true), 3.5f);    // q = 7
  EXPECT_EQ(int_quant_dequant(-7.0f, p, 4, true), -4.0f);  // q = -8 (clamp range is asymmetric)
}

// Clip search never loses to no clipping (ratio 1 is on the grid and wins ties), group by group, and
// on this heavy-tailed data it wins overall.
TEST(IntQuant, ClipSearchErrorAtMostNoClipError) {
  const int64_t rows = 16, cols = 256;
  std::vector<float> x = test::random_matrix(rows, cols, 3);
  for (const char* base : {"int4-g64", "int3-asym-g64", "fp4-g64", "int4", "int2-tensor"}) {
    SCOPED_TRACE(base);
    const QuantSpec spec = parse_spec(base);
    const std::vector<float> y0 = fq(base, x, rows, cols), y1 = fq(std::string(base) + "-clip", x, rows, cols);
    const int64_t glen = spec.granularity == Granularity::PerTensor ? rows * cols
                         : spec.granularity == Granularity::PerGroup ? spec.group : cols;
    double t0 = 0, t1 = 0;
    for (int64_t i0 = 0; i0 < rows * cols; i0 += glen) {
      double e0 = 0, e1 = 0;
      for (int64_t i = i0; i < i0 + glen; ++i) {
        e0 += (double(y0[i]) - x[i]) * (double(y0[i]) - x[i]);
        e1 += (double(y1[i]) - x[i]) * (double(y1[i]) - x[i]);
      }
      EXPECT_LE(e1, e0) << "group at " << i0;
      t0 += e0, t1 += e1;
    }
    EXPECT_LT(t1, t0);
  }
}

// Changing one group leaves every other group's output unchanged.
TEST(IntQuant, GroupsAreIndependent) {
  const int64_t rows = 4, cols = 128;
  std::vector<float> x = test::random_matrix(rows, cols, 5);
  for (const char* name : {"int4-g32", "int4-asym-g32-clip", "fp4-g32", "fp8-e5m2-g32", "int8-tok", "int4"}) {
    SCOPED_TRACE(name);
    const int64_t g = parse_spec(name).granularity == Granularity::PerGroup ? 32 : cols;
    std::vector<float> x2 = x;
    for (int64_t c = 32; c < 64; ++c) x2[1 * cols + c] *= 9.0f;  // row 1, cols 32..63
    const std::vector<float> y = fq(name, x, rows, cols), y2 = fq(name, x2, rows, cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const bool touched = r == 1 && c / g == 32 / g;
        if (!touched) { ASSERT_EQ(y[r * cols + c], y2[r * cols + c]) << r << "," << c; }
      }
  }
}

TEST(IntQuant, PerTokenEqualsPerChannelAndPerTensorHasOneScale) {
  const int64_t rows = 8, cols = 64;
  const std::vector<float> x = test::random_matrix(rows, cols, 9);
  EXPECT_EQ(fq("int8-tok", x, rows, cols), fq("int8", x, rows, cols));
  const Packed pk = pack(parse_spec("int4-tensor"), x.data(), rows, cols);
  ASSERT_EQ(pk.scales.size(), 2u);
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  const IntParams p = int_params(x.data(), rows * cols, 4, true);
  EXPECT_NEAR(p.scale, amax / 7, amax / 7 * 0x1.0p-11f);  // F16 rounding: half an ulp, 2^-11 relative
  const std::vector<float> y = fq("int4-tensor", x, rows, cols);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], int_quant_dequant(x[i], p, 4, true));
}

TEST(IntQuant, GroupMustDivideCols) {
  std::vector<float> x(3 * 100, 1.0f), y(x.size());
  try {
    fake_quant(parse_spec("int4-g128"), x.data(), 3, 100, y.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("[3, 100]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("128"), std::string::npos) << msg;
  }
  EXPECT_THROW(pack(parse_spec("fp4-g32"), x.data(), 3, 100), Error);
}

// GPTQ path: group_params + group_quant_dequant reproduce fake_quant, and pack_int of those values
// unpacks to them exactly; values off the grid or non-F16 scales are rejected.
TEST(IntQuant, ColumnwiseBuildingBlocksMatchFakeQuantAndPackInt) {
  const int64_t rows = 6, cols = 64;
  const std::vector<float> x = test::random_matrix(rows, cols, 13);
  for (const char* name : {"int4-g16", "int3-asym-g32-clip", "int8", "int2-asym", "fp4-g16-clip", "fp8-e4m3-g32", "int4-tensor"}) {
    SCOPED_TRACE(name);
    const QuantSpec spec = parse_spec(name);
    const int64_t len = spec.granularity == Granularity::PerGroup ? spec.group : cols;
    std::vector<IntParams> params;
    std::vector<float> wq(x.size());
    if (spec.granularity == Granularity::PerTensor) params.push_back(group_params(spec, x.data(), rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols / len; ++j) {
        const float* xg = x.data() + r * cols + j * len;
        if (spec.granularity != Granularity::PerTensor) params.push_back(group_params(spec, xg, len));
        const IntParams& p = params.back();
        for (int64_t c = 0; c < len; ++c) wq[r * cols + j * len + c] = group_quant_dequant(spec, xg[c], p);
      }
    EXPECT_EQ(static_cast<int64_t>(params.size()), num_scales(spec, rows, cols));
    EXPECT_EQ(wq, fq(name, x, rows, cols));
    const Packed pk = pack_int(spec, wq.data(), rows, cols, params);
    std::vector<float> back(x.size());
    unpack(spec, pk, rows, cols, back.data());
    EXPECT_EQ(back, wq);
    const Packed direct = pack(spec, x.data(), rows, cols);
    EXPECT_EQ(pk.codes, direct.codes);
    EXPECT_EQ(pk.scales, direct.scales);
    EXPECT_EQ(pk.zeros, direct.zeros);
  }
  // Off-grid value and a scale that F16 cannot hold.
  const QuantSpec spec = parse_spec("int4");
  std::vector<float> w = {0.5f, 0.25f};
  EXPECT_THROW(pack_int(spec, w.data(), 1, 2, {IntParams{0.5f, 0.0f}}), Error);    // 0.25 is off the 0.5 grid
  EXPECT_THROW(pack_int(spec, w.data(), 1, 2, {IntParams{0.126f, 0.0f}}), Error);  // 0.126 is not an F16 value
  EXPECT_NO_THROW(pack_int(spec, w.data(), 1, 2, {IntParams{0.125f, 0.0f}}));
  EXPECT_THROW(pack_int(spec, w.data(), 1, 2, {}), Error);  // wrong number of params
}

}  // namespace
}  // namespace hessq::formats
