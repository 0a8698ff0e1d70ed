// Every format name: parse/name round trip, errors, storage cost, and the properties that hold for
// the whole family: dequant(pack(x)) == fake_quant(x) bit for bit, idempotence, sign symmetry,
// invariance under power-of-two scaling, thread-count independence and in-place operation.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "format_test_util.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {
namespace {

const char* const kNames[] = {
    "int2", "int3", "int4", "int5", "int6", "int7", "int8", "int4-asym", "int4-g128", "int4-asym-g128",
    "int8-tok", "int4-tensor", "int4-clip", "int3-asym-g64-clip", "int8-asym-tok", "int4-tensor-clip", "int2-g32",
    "fp4", "fp4-g32", "fp4-tok", "fp4-tensor", "fp4-g16-clip", "fp8-e4m3", "fp8-e5m2", "fp8-e4m3-tok",
    "fp8-e4m3-g128", "fp8-e5m2-tensor", "nvfp4", "nvfp4-2d", "nvfp4-ref", "nvfp4-ref-1d", "mxfp4", "mxfp8"};

constexpr int64_t kRows = 48, kCols = 256;

std::vector<float> fq(const QuantSpec& spec, const std::vector<float>& x, int64_t rows = kRows, int64_t cols = kCols) {
  std::vector<float> out(x.size());
  fake_quant(spec, x.data(), rows, cols, out.data());
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

TEST(QuantSpec, NamesRoundTrip) {
  for (const char* name : kNames) {
    const QuantSpec s = parse_spec(name);
    EXPECT_EQ(s.name(), name);
    EXPECT_EQ(parse_spec(s.name()), s) << name;
  }
  // Modifiers in any order and explicit aliases parse to the canonical spec.
  EXPECT_EQ(parse_spec("int4-g128-asym").name(), "int4-asym-g128");
  EXPECT_EQ(parse_spec("int4-clip-tok").name(), "int4-tok-clip");
  EXPECT_EQ(parse_spec("nvfp4-1d").name(), "nvfp4");
  EXPECT_EQ(parse_spec("nvfp4-ref-2d").name(), "nvfp4-ref");
  const QuantSpec g = parse_spec("int4-asym-g128");
  EXPECT_EQ(g.format, Format::Int);
  EXPECT_EQ(g.bits, 4);
  EXPECT_FALSE(g.symmetric);
  EXPECT_EQ(g.granularity, Granularity::PerGroup);
  EXPECT_EQ(g.group, 128);
  EXPECT_EQ(parse_spec("nvfp4").group, 16);
  EXPECT_EQ(parse_spec("mxfp8").group, 32);
  EXPECT_TRUE(parse_spec("nvfp4-ref").nvfp4_ref);
  EXPECT_EQ(parse_spec("int8-tok").granularity, Granularity::PerToken);
  EXPECT_EQ(activation_spec(parse_spec("int4-g128")).name(), "int4-g128");
  EXPECT_EQ(activation_spec(parse_spec("int8")).name(), "int8-tok");
}

TEST(QuantSpec, BadNamesListAcceptedForms) {
  for (const char* bad : {"", "foo", "int", "int4-g", "int4-g0", "int4-gx", "nvfp4-g32", "fp8", "fp8-e3m4", "int4-tok-tensor",
                          "int4-asym-asym", "mxfp4-clip", "fp8-e4m3-clip", "fp4-asym", "nvfp4-1d-2d", "mxfp4-ref", "INT4",
                          "int4_g128", "int4-", "int1", "int9", "int16", "int0"}) {
    try {
      parse_spec(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(has(msg, "accepted") && has(msg, "mxfp8") && has(msg, "int<b>")) << msg;
      if (std::string(bad) == "int9") { EXPECT_TRUE(has(msg, "2..8")) << msg; }
    }
  }
}

TEST(QuantSpec, InvalidHandMadeSpecsThrow) {
  std::vector<float> x(32, 1.0f), y(32);
  QuantSpec s;
  s.bits = 9;
  EXPECT_THROW(fake_quant(s, x.data(), 1, 32, y.data()), Error);
  s.bits = 1;
  EXPECT_THROW(pack(s, x.data(), 1, 32), Error);
  QuantSpec nv;
  nv.format = Format::NvFp4;  // granularity PerChannel: not an NVFP4 layout
  EXPECT_THROW(fake_quant(nv, x.data(), 1, 32, y.data()), Error);
  nv.granularity = Granularity::PerGroup;  // group 0 means the block size
  EXPECT_NO_THROW(fake_quant(nv, x.data(), 1, 32, y.data()));
  QuantSpec fp8;
  fp8.format = Format::Fp8E4M3;
  fp8.clip_search = true;
  EXPECT_THROW(fake_quant(fp8, x.data(), 1, 32, y.data()), Error);
  QuantSpec tile;
  tile.granularity = Granularity::Tile2D;  // INT has no tiles
  EXPECT_THROW(fake_quant(tile, x.data(), 1, 32, y.data()), Error);
}

TEST(QuantSpec, BitsPerElement) {
  const int64_t m = 4096, n = 4096;
  const double N = double(m) * n;
  EXPECT_DOUBLE_EQ(parse_spec("int4").bits_per_element(m, n), 4 + 16.0 / n);
  EXPECT_DOUBLE_EQ(parse_spec("int4-asym-g128").bits_per_element(m, n), 4 + 24.0 / 128);
  EXPECT_DOUBLE_EQ(parse_spec("int8-tensor").bits_per_element(m, n), 8 + 16.0 / N);
  EXPECT_DOUBLE_EQ(parse_spec("fp4-g32").bits_per_element(m, n), 4.5);
  EXPECT_DOUBLE_EQ(parse_spec("fp8-e4m3").bits_per_element(m, n), 8 + 32.0 / n);
  EXPECT_DOUBLE_EQ(parse_spec("nvfp4").bits_per_element(m, n), 4.5 + 32.0 / N);
  EXPECT_DOUBLE_EQ(parse_spec("nvfp4-2d").bits_per_element(m, n), 4 + 8.0 / 256 + 32.0 / N);
  EXPECT_DOUBLE_EQ(parse_spec("nvfp4-ref").bits_per_element(m, n), 4 + 8.0 / 256);
  EXPECT_DOUBLE_EQ(parse_spec("nvfp4-ref-1d").bits_per_element(m, n), 4.5);
  EXPECT_DOUBLE_EQ(parse_spec("mxfp4").bits_per_element(m, n), 4.25);
  EXPECT_DOUBLE_EQ(parse_spec("mxfp8").bits_per_element(m, n), 8.25);
  EXPECT_EQ(parse_spec("int3-asym").element_bits(), 3);
  EXPECT_EQ(parse_spec("fp8-e5m2").element_bits(), 8);
  EXPECT_EQ(parse_spec("nvfp4").element_bits(), 4);
  EXPECT_EQ(parse_spec("mxfp8").element_bits(), 8);
}

// The core contract: decoding the packed codes gives fake_quant's floats, bit for bit.
TEST(QuantSpec, UnpackOfPackEqualsFakeQuantBitExact) {
  const std::vector<float> x = test::random_matrix(kRows, kCols, 1);
  for (const char* name : kNames) {
    SCOPED_TRACE(name);
    const QuantSpec spec = parse_spec(name);
    const Packed pk = pack(spec, x.data(), kRows, kCols);
    EXPECT_EQ(pk.scales.size() / (pk.scale_dtype == "F32" ? 4 : pk.scale_dtype == "F16" ? 2 : 1),
              static_cast<size_t>(num_scales(spec, kRows, kCols)));
    const int container = spec.element_bits() <= 4 ? 4 : 8;
    EXPECT_EQ(pk.codes.size(), static_cast<size_t>(kRows * kCols * container / 8));
    std::vector<float> y(x.size());
    unpack(spec, pk, kRows, kCols, y.data());
    EXPECT_TRUE(same_bits(y, fq(spec, x)));
    // Sizes are checked before decoding.
    Packed bad = pk;
    bad.codes.pop_back();
    EXPECT_THROW(unpack(spec, bad, kRows, kCols, y.data()), Error);
    bad = pk;
    bad.scale_dtype = "BF16";
    EXPECT_THROW(unpack(spec, bad, kRows, kCols, y.data()), Error);
    EXPECT_THROW(unpack(spec, pk, kRows + 1, kCols, y.data()), Error);
  }
}

// pack_int: values built on the grid of given per-group parameters (random F16 scales, random zero
// points) pack and unpack to exactly those values, for every group-scaled format.
TEST(QuantSpec, PackIntRoundTripFromGivenParams) {
  const std::vector<float> x = test::random_matrix(kRows, kCols, 6);
  uint64_t s = 99;
  for (const char* name : kNames) {
    const QuantSpec spec = parse_spec(name);
    if (spec.format == Format::NvFp4 || spec.format == Format::MxFp4 || spec.format == Format::MxFp8) continue;
    SCOPED_TRACE(name);
    const int64_t ns = num_scales(spec, kRows, kCols);
    std::vector<IntParams> params(static_cast<size_t>(ns));
    for (IntParams& p : params) {
      p.scale = f16_to_f32(f32_to_f16(static_cast<float>(std::ldexp(1.0 + test::uniform01(s), -8 + int(test::uniform01(s) * 10)))));
      if (!spec.symmetric) p.zero = static_cast<float>(splitmix64(s) % ((1u << spec.bits)));
    }
    const int64_t len = spec.granularity == Granularity::PerTensor ? kRows * kCols
                        : spec.granularity == Granularity::PerGroup ? spec.group : kCols;
    std::vector<float> wq(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      wq[i] = group_quant_dequant(spec, x[i] * 0.3f, params[static_cast<size_t>(i / len)]);
    const Packed pk = pack_int(spec, wq.data(), kRows, kCols, params);
    std::vector<float> back(x.size());
    unpack(spec, pk, kRows, kCols, back.data());
    EXPECT_TRUE(same_bits(back, wq));
  }
}

// fake_quant(fake_quant(x)) == fake_quant(x). Bit-exact where re-deriving the scale from quantized
// data is exact (symmetric INT and FP4 F16 scales, MX powers of two, e4m3_sim); FP8 and NVFP4
// re-derive an F32 scale amax/max (or amax/2688) from amax' = max * s, which can move it by an ulp:
// within kUlpTol. Asymmetric INT is not idempotent: when round(max/s) + round(-min/s) = 2^b - 2 the
// top code goes unused and the re-derived range shrinks by a step, so values may move by one step.
TEST(QuantSpec, Idempotent) {
  constexpr double kUlpTol = 4 * 0x1.0p-24;  // relative: a few float roundings of the scale
  const std::vector<float> x = test::random_matrix(kRows, kCols, 2);
  for (const char* name : kNames) {
    SCOPED_TRACE(name);
    if (has(name, "clip")) continue;  // a clipped grid is re-clipped: not idempotent by design
    const QuantSpec spec = parse_spec(name);
    const std::vector<float> y = fq(spec, x), yy = fq(spec, y);
    if (!spec.symmetric) {
      const int64_t glen = spec.granularity == Granularity::PerGroup ? spec.group : kCols;
      for (int64_t g0 = 0; g0 < kRows * kCols; g0 += glen) {
        float mn = 0, mx = 0;
        for (int64_t i = g0; i < g0 + glen; ++i) mn = std::min(mn, y[i]), mx = std::max(mx, y[i]);
        const float step = (mx - mn) / ((1 << spec.bits) - 1) * 1.01f;  // one step, 1% for the F16 scale
        for (int64_t i = g0; i < g0 + glen; ++i) ASSERT_NEAR(yy[i], y[i], step) << i;
      }
    } else if (has(name, "fp8-") || (spec.format == Format::NvFp4 && !spec.nvfp4_ref)) {
      for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(yy[i], y[i], std::fabs(y[i]) * kUlpTol) << i;
    } else {
      EXPECT_TRUE(same_bits(yy, y));
    }
  }
}

// fake_quant(-x) == -fake_quant(x) for every sign-symmetric format: not asymmetric INT, and not
// symmetric INT with clipping (its clamp range [-2^(b-1), 2^(b-1)-1] is asymmetric).
TEST(QuantSpec, SignSymmetric) {
  const std::vector<float> x = test::random_matrix(kRows, kCols, 3);
  std::vector<float> neg(x.size());
  for (size_t i = 0; i < x.size(); ++i) neg[i] = -x[i];
  for (const char* name : kNames) {
    const QuantSpec spec = parse_spec(name);
    if (!spec.symmetric || (spec.format == Format::Int && spec.clip_search)) continue;
    SCOPED_TRACE(name);
    const std::vector<float> y = fq(spec, x), yn = fq(spec, neg);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(yn[i], -y[i]) << i;
  }
}

// fake_quant(2^k x) == 2^k fake_quant(x): every scale rule is homogeneous and exact under powers of
// two (F16/F32 scales while they stay normal, E4M3 block scales relative to g, E8M0 exponents).
// Upward k keeps every F16 scale of this data normal.
TEST(QuantSpec, PowerOfTwoScaleInvariant) {
  const std::vector<float> x = test::random_matrix(kRows, kCols, 4);
  for (int k : {1, 4}) {
    std::vector<float> xs(x.size());
    for (size_t i = 0; i < x.size(); ++i) xs[i] = std::ldexp(x[i], k);
    for (const char* name : kNames) {
      SCOPED_TRACE(std::string(name) + " k=" + std::to_string(k));
      const QuantSpec spec = parse_spec(name);
      const std::vector<float> y = fq(spec, x), ys = fq(spec, xs);
      for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(ys[i], std::ldexp(y[i], k)) << i;
    }
  }
}

TEST(QuantSpec, ThreadCountIndependentAndInPlace) {
  const int64_t rows = 67, cols = 1024;  // odd row count: uneven split; above kParallelMinElements
  const std::vector<float> x = test::random_matrix(rows, cols, 5);
  const int saved = omp_get_max_threads();
  for (const char* name : kNames) {
    SCOPED_TRACE(name);
    const QuantSpec spec = parse_spec(name);
    if (spec.granularity == Granularity::PerGroup && spec.group > 0 && cols % spec.group != 0) continue;
    omp_set_num_threads(1);
    const std::vector<float> y1 = fq(spec, x, rows, cols);
    const Packed p1 = pack(spec, x.data(), rows, cols);
    omp_set_num_threads(3);
    const std::vector<float> y3 = fq(spec, x, rows, cols);
    const Packed p3 = pack(spec, x.data(), rows, cols);
    EXPECT_TRUE(same_bits(y1, y3));
    EXPECT_EQ(p1.codes, p3.codes);
    EXPECT_EQ(p1.scales, p3.scales);
    std::vector<float> inplace = x;
    fake_quant(spec, inplace.data(), rows, cols, inplace.data());
    EXPECT_TRUE(same_bits(inplace, y1));
  }
  omp_set_num_threads(saved);
}

TEST(QuantSpec, EmptyMatrices) {
  std::vector<float> none;
  for (const char* name : kNames) {
    const QuantSpec spec = parse_spec(name);
    EXPECT_NO_THROW(fake_quant(spec, none.data(), 0, 256, none.data())) << name;
    const Packed pk = pack(spec, none.data(), 0, 256);
    EXPECT_TRUE(pk.codes.empty()) << name;
  }
}

}  // namespace
}  // namespace hessq::formats
