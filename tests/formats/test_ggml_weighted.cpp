// ggml's importance-weighted quantizers (ggml_quantize_row with an importance) on hand-checked
// blocks: values already on a grid of the type come back as that grid's codes, exactly where the
// scales are exact in f16; an all-zero importance gives what ggml's searches give for no weight;
// the K-quants' weighted blocks depend on their own values only; the same input gives the same bytes.
// Byte equality with ggml itself: scripts/check-ggml-quants.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

#include "format_test_util.hpp"
#include "ggml_test_util.hpp"
#include "hessq/core/half.hpp"
#include "hessq/formats/ggml_blocks.hpp"
#include "hessq/formats/ggml_quantize.hpp"

namespace hessq::formats {
namespace {

using test::kGgmlWeighted;

std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x, const std::vector<float>& imp) {
  const GgmlBlockShape s = ggml_block_shape(t);
  std::vector<uint8_t> q(x.size() / static_cast<size_t>(s.block) * static_cast<size_t>(s.bytes));
  ggml_quantize_row(t, x.data(), static_cast<int64_t>(x.size()), imp.data(), q.data());
  return q;
}

std::vector<float> positive_importance(size_t n, uint64_t seed) {
  std::vector<float> w(n);
  for (float& v : w) v = static_cast<float>(0.1 + std::exp(2 * uniform01(seed)));
  return w;
}

uint16_t f16_at(const std::vector<uint8_t>& q, size_t at) {
  uint16_t h;
  std::memcpy(&h, q.data() + at, 2);
  return h;
}

// Q4_1 / Q5_1 on x = -1 + step * k with every level k of [0, nmax] present: the search's first
// grid, min -1 and scale (max - min) / nmax = step (all exact), has zero error, so nothing replaces
// it: d = step, m = -1 in the header, codes k, and the block decodes to x exactly.
TEST(GgmlWeighted, LegacyAsymOnItsGridIsExact) {
  for (const auto& [t, nmax, step] : {std::tuple{GgmlType::kQ4_1, 15, 0.125f}, std::tuple{GgmlType::kQ5_1, 31, 0.0625f}}) {
    SCOPED_TRACE(ggml_type_name(ggml_id(t)));
    std::vector<float> x(64);
    std::vector<int> k(64);
    for (int j = 0; j < 64; ++j) {
      k[j] = (7 * j + j / 32) % (nmax + 1);  // a permutation of the levels in each block (7 is odd)
      x[j] = -1.0f + step * static_cast<float>(k[j]);
    }
    const std::vector<uint8_t> q = quantize(t, x, positive_importance(64, 3));
    const GgmlBlockShape s = ggml_block_shape(t);
    std::vector<float> dq(64);
    ggml_dequantize(t, q.data(), 64, dq.data());
    for (int b = 0; b < 2; ++b) {
      EXPECT_EQ(f16_at(q, b * s.bytes), f32_to_f16(step));
      EXPECT_EQ(f16_at(q, b * s.bytes + 2), f32_to_f16(-1.0f));
      for (int j = 0; j < 32; ++j) EXPECT_EQ(ggml_block_code(t, q.data() + b * s.bytes, j), k[32 * b + j]) << j;
    }
    EXPECT_EQ(dq, x);
  }
}

// Q2_K, Q3_K, Q4_K, Q5_K on values already on a grid per sub-block (every level present, the same
// step and offset in each sub-block): each sub-block's search finds that grid with zero error, so the
// codes are the levels. The super-block scales are found by a
// least-squares fit and stored in f16, so the values come back within f16's relative 2^-11 of the
// scale and min terms (|scale * q| <= 1.5, |min| <= 1 here: 2.5 * 2^-11 < 1.3e-3, plus float
// rounding).
TEST(GgmlWeighted, KQuantsOnTheirGridGiveTheLevels) {
  struct Case {
    GgmlType t;
    int levels, offset;  // codes [offset, offset + levels)
    float step, min;     // x = min + step * (code - offset)
  };
  for (const Case& c : {Case{GgmlType::kQ2_K, 4, 0, 0.5f, -1.0f}, Case{GgmlType::kQ3_K, 8, -4, 0.25f, -1.0f},
                        Case{GgmlType::kQ4_K, 16, 0, 0.0625f, -0.5f}, Case{GgmlType::kQ5_K, 32, 0, 0.03125f, -0.5f}}) {
    SCOPED_TRACE(ggml_type_name(ggml_id(c.t)));
    const GgmlBlockShape s = ggml_block_shape(c.t);
    std::vector<float> x(256);
    std::vector<int> code(256);
    for (int j = 0; j < 256; ++j) {
      const int sub = j / s.sub, l = j % s.sub;
      const int k = (l * 5 + sub) % c.levels;  // every level in each sub-block (5 is prime to levels)
      code[j] = k + c.offset;
      x[j] = c.min + c.step * static_cast<float>(k);
    }
    const std::vector<uint8_t> q = quantize(c.t, x, positive_importance(256, 7));
    std::vector<float> dq(256);
    ggml_dequantize(c.t, q.data(), 256, dq.data());
    for (int j = 0; j < 256; ++j) {
      EXPECT_EQ(ggml_block_code(c.t, q.data(), j), code[j]) << j;
      EXPECT_NEAR(dq[j], x[j], 1.5e-3) << j;
    }
  }
}

// No weight at all in a block: ggml's symmetric searches find no scale (sum w l^2 = 0) and store 0,
// so the block decodes to zeros; Q4_1 / Q5_1 keep the search's first grid: scale (max - min) / nmax
// with the min clipped to <= 0, codes rounded to nearest on it.
TEST(GgmlWeighted, ZeroImportanceBlocks) {
  std::vector<float> x = test::random_matrix(1, 256, 5);
  const std::vector<float> zero(256, 0.0f);
  for (GgmlType t : {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K,
                     GgmlType::kQ5_K, GgmlType::kQ6_K}) {
    SCOPED_TRACE(ggml_type_name(ggml_id(t)));
    std::vector<float> dq(256);
    ggml_dequantize(t, quantize(t, x, zero).data(), 256, dq.data());
    for (int j = 0; j < 256; ++j) EXPECT_EQ(dq[j], 0.0f) << j;
  }
  for (const auto& [t, nmax] : {std::pair{GgmlType::kQ4_1, 15}, std::pair{GgmlType::kQ5_1, 31}}) {
    SCOPED_TRACE(ggml_type_name(ggml_id(t)));
    const std::vector<float> xb(x.begin(), x.begin() + 32), zb(32, 0.0f);
    const std::vector<uint8_t> q = quantize(t, xb, zb);
    float lo = 0, hi = xb[0];
    for (float v : xb) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const float iscale = static_cast<float>(nmax) / (hi - lo);
    EXPECT_EQ(f16_at(q, 0), f32_to_f16(1 / iscale));
    EXPECT_EQ(f16_at(q, 2), f32_to_f16(lo));
    for (int j = 0; j < 32; ++j) {
      const int want = std::clamp(static_cast<int>(std::nearbyint(iscale * (xb[j] - lo))), 0, nmax);
      EXPECT_EQ(ggml_block_code(t, q.data(), j), want) << j;
    }
  }
}

// A K-quant block's weighted bytes depend on its own values and importance only (ggml's K-quants
// take sigma2 from the super-block), and the same row gives the same bytes every time.
TEST(GgmlWeighted, KBlocksAreIndependentAndDeterministic) {
  const std::vector<float> x = test::random_matrix(1, 1024, 8), imp = positive_importance(1024, 4);
  for (GgmlType t : kGgmlWeighted) {
    SCOPED_TRACE(ggml_type_name(ggml_id(t)));
    const std::vector<uint8_t> q = quantize(t, x, imp);
    EXPECT_EQ(q, quantize(t, x, imp));
    if (ggml_block_shape(t).block != 256) continue;
    const size_t bytes = static_cast<size_t>(ggml_block_shape(t).bytes);
    for (size_t b = 0; b < 4; ++b) {
      const std::vector<float> xb(x.begin() + 256 * b, x.begin() + 256 * (b + 1));
      const std::vector<float> ib(imp.begin() + 256 * b, imp.begin() + 256 * (b + 1));
      EXPECT_EQ(quantize(t, xb, ib), std::vector<uint8_t>(q.begin() + bytes * b, q.begin() + bytes * (b + 1))) << b;
    }
  }
}

}  // namespace
}  // namespace hessq::formats
