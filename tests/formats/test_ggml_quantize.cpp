// ggml quantizers and the solver grid API. Byte equality with llama.cpp itself is checked outside the
// tests (scripts/check-ggml-quants, docs/RESULTS.md); here: the grid/pack/reference property on
// random and real rows, the error bounds of the reference rounding, the importance-weighted path
// (test_ggml_weighted.cpp has more of it), and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "format_test_util.hpp"
#include "ggml_test_util.hpp"
#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_quantize.hpp"

namespace hessq::formats {
namespace {

using test::kGgmlWeighted;
using test::quant_error;

const uint32_t kAll[] = {2, 3, 6, 7, 8, 10, 11, 12, 13, 14};

// Rows of 512 floats: seeded gaussian-with-outliers rows, constant, zero and tiny rows.
std::vector<float> test_rows(uint64_t seed) {
  std::vector<float> x = test::random_matrix(24, 512, seed);
  const size_t n = 512;
  for (size_t j = 0; j < n; ++j) {
    x[0 * n + j] = 0.0f;                                 // zeros
    x[1 * n + j] = 0.75f;                                // constant > 0
    x[2 * n + j] = -1.25f;                               // constant < 0
    x[3 * n + j] = x[4 * n + j] * 1e-9f;                 // f16 scales underflow to 0
    x[5 * n + j] = std::fabs(x[6 * n + j]);              // all positive
    if ((j / 32) % 3 == 0) x[7 * n + j] = 0.0f;          // zero blocks in a row
  }
  return x;
}

// The first rows of stories260K's weights (a llama2.c checkpoint: 7 int32 header, then floats).
std::vector<float> real_rows(size_t n_floats) {
  std::ifstream f(HESSQ_SHARED_DIR "/models/stories260K/stories260K.bin", std::ios::binary);
  if (!f) return {};
  std::vector<float> x(n_floats);
  f.seekg(28);
  f.read(reinterpret_cast<char*>(x.data()), static_cast<std::streamsize>(n_floats * sizeof(float)));
  return f ? x : std::vector<float>{};
}

// ref bytes == pack_values(grid, qdq(x)) == pack_codes(grid, code(x)), and dequantize(ref) == qdq.
void check_property(GgmlType t, const std::vector<float>& x, int64_t n, const float* importance) {
  const GgmlBlockShape s = ggml_block_shape(t);
  const size_t row_bytes = static_cast<size_t>(n / s.block * s.bytes);
  std::vector<uint8_t> ref(row_bytes), packed(row_bytes);
  std::vector<float> qdq(static_cast<size_t>(n)), dq(static_cast<size_t>(n));
  std::vector<int> codes(static_cast<size_t>(s.block));
  for (size_t r = 0; r * static_cast<size_t>(n) < x.size(); ++r) {
    const float* xr = x.data() + r * static_cast<size_t>(n);
    ggml_quantize_row(t, xr, n, importance, ref.data());
    const std::vector<GgmlGrid> grids = ggml_row_grids(t, xr, n, importance);
    for (size_t b = 0; b < grids.size(); ++b) {
      const size_t at = b * static_cast<size_t>(s.block);
      for (int j = 0; j < s.block; ++j) {
        qdq[at + j] = ggml_grid_qdq(grids[b], j, xr[at + j]);
        codes[static_cast<size_t>(j)] = ggml_grid_code(grids[b], j, xr[at + j]);
      }
      ggml_pack_values(grids[b], qdq.data() + at, packed.data() + b * static_cast<size_t>(s.bytes));
      std::vector<uint8_t> from_codes(static_cast<size_t>(s.bytes));
      ggml_pack_codes(grids[b], codes.data(), from_codes.data());
      ASSERT_EQ(0, std::memcmp(from_codes.data(), packed.data() + b * static_cast<size_t>(s.bytes), from_codes.size()))
          << "row " << r << " block " << b;
    }
    ASSERT_EQ(ref, packed) << "row " << r;
    ggml_dequantize(t, ref.data(), n, dq.data());
    for (int64_t j = 0; j < n; ++j)  // bit for bit: the same value of the same code
      ASSERT_EQ(std::bit_cast<uint32_t>(dq[j]), std::bit_cast<uint32_t>(qdq[j])) << "row " << r << " elt " << j;
  }
}

TEST(GgmlQuantize, GridPackEqualsReferenceOnRandomRows) {
  const std::vector<float> x = test_rows(11);
  for (uint32_t id : kAll) {
    SCOPED_TRACE(ggml_type_name(id));
    check_property(ggml_block_type(id), x, 512, nullptr);
  }
}

TEST(GgmlQuantize, GridPackEqualsReferenceOnStories260K) {
  const std::vector<float> x = real_rows(64 * 512);
  if (x.empty()) GTEST_SKIP() << "stories260K.bin not found under " HESSQ_SHARED_DIR;
  for (uint32_t id : kAll) {
    SCOPED_TRACE(ggml_type_name(id));
    check_property(ggml_block_type(id), x, 512, nullptr);
  }
}

// Every weighted type, with a spread importance (5% zeros) and with a uniform one (the weighted
// search with qw = 1, not the reference): its codes are points of its grid, and the bytes decode to
// the grid's values.
TEST(GgmlQuantize, GridPackEqualsWeightedQuantizer) {
  const std::vector<float> x = test_rows(12);
  std::vector<float> imp(512);
  uint64_t seed = 5;
  for (float& w : imp) w = uniform01(seed) < 0.05 ? 0.0f : static_cast<float>(std::exp(3 * uniform01(seed)));
  const std::vector<float> uniform(512, 1.0f);
  for (GgmlType t : kGgmlWeighted) {
    SCOPED_TRACE(ggml_type_name(ggml_id(t)));
    check_property(t, x, 512, imp.data());
    check_property(t, x, 512, uniform.data());
  }
}

// The weighted search is for lower importance-weighted error: over many rows it must beat the reference
// on that measure (a few rows may not: it is a heuristic search, as in ggml), for an importance spread
// over ~e^4 and for one concentrated on an eighth of the elements, on rows with ~1% outliers 20-100x
// larger and on the same rows clipped to +-4. One exception, ggml's own: on the rows with outliers
// the weighted Q3_K (make_qx_quants, no refinement, weights ~|x| on the outliers) ends above the
// reference (make_q3_quants: weights x^2, coordinate descent); it is held to the clipped rows only.
// Each ratio is printed (docs/RESULTS.md quotes them).
TEST(GgmlQuantize, ImportanceLowersWeightedError) {
  const std::vector<float> outliers = test::random_matrix(64, 512, 21);
  const std::vector<float> clipped = [&] {
    std::vector<float> c = outliers;
    for (float& v : c) v = std::clamp(v, -4.0f, 4.0f);
    return c;
  }();
  std::vector<float> spread(512), few(512);
  uint64_t seed = 9;
  for (float& w : spread) w = static_cast<float>(std::exp(4 * uniform01(seed)));
  for (float& w : few) w = uniform01(seed) < 0.125 ? 1.0f : 1e-3f;
  for (const std::vector<float>* x : {&outliers, &clipped}) {
    for (const std::vector<float>* imp : {&spread, &few}) {
      for (GgmlType t : kGgmlWeighted) {
        const std::string what = ggml_type_name(ggml_id(t)) + (x == &outliers ? " outliers" : " clipped") +
                                 (imp == &few ? " few" : " spread");
        double err_ref = 0, err_w = 0;
        for (int r = 0; r < 64; ++r) {
          err_ref += quant_error(t, x->data() + r * 512, 512, nullptr, imp->data());
          err_w += quant_error(t, x->data() + r * 512, 512, imp->data(), imp->data());
        }
        std::printf("  %-22s weighted / reference error %.3f\n", what.c_str(), err_w / err_ref);  // docs/RESULTS.md
        if (!(t == GgmlType::kQ3_K && x == &outliers)) {
          EXPECT_LT(err_w, err_ref) << what;
        }
      }
    }
  }
}

TEST(GgmlQuantize, LegacyErrorWithinHalfAStep) {
  // Codes come from x * (1 / d) with d in fp32; the stored scale is f16(d), off by at most 2^-11
  // relative, so |x - value| <= |d| / 2 plus qmax * |d| * 2^-11 (and |m| * 2^-11 for the min); the
  // element that defines d in Q4_0 / Q5_0 may be clamped to the top code: one full step there.
  const std::vector<float> x = test::random_matrix(16, 512, 13);
  for (uint32_t id : {2u, 3u, 6u, 7u, 8u}) {
    const GgmlType t = ggml_block_type(id);
    SCOPED_TRACE(ggml_type_name(id));
    for (size_t b = 0; b * 32 < x.size(); ++b) {
      const float* xb = x.data() + b * 32;
      const GgmlGrid g = ggml_block_grid(t, xb);
      const float d = std::fabs(g.dq.scale[0]), m = std::fabs(g.dq.min[0]);
      for (int j = 0; j < 32; ++j) {
        const int q = ggml_grid_code(g, j, xb[j]);
        const float step = (q == g.shape.qmax && !g.shape.has_min) ? d : 0.5f * d;
        const float bound = step + 128 * d * 0x1p-11f + m * 0x1p-11f + 1e-30f;
        EXPECT_LE(std::fabs(xb[j] - ggml_grid_value(g, j, q)), bound) << "block " << b << " elt " << j;
      }
    }
  }
}

TEST(GgmlQuantize, KQuantErrorWithinHalfAStepInsideTheRange) {
  // The K-quants round (x - min) / scale to nearest on the final grid: inside the code range the
  // error is at most half a step (one float rounding of the division allowed: 1e-5 relative).
  const std::vector<float> x = test::random_matrix(16, 512, 17);
  for (uint32_t id : {10u, 11u, 12u, 13u, 14u}) {
    const GgmlType t = ggml_block_type(id);
    SCOPED_TRACE(ggml_type_name(id));
    for (size_t b = 0; b * 256 < x.size(); ++b) {
      const float* xb = x.data() + b * 256;
      const GgmlGrid g = ggml_block_grid(t, xb);
      for (int j = 0; j < 256; ++j) {
        const int q = ggml_grid_code(g, j, xb[j]);
        const float scale = std::fabs(g.dq.scale[j / g.shape.sub]);
        if (q == g.shape.qmin || q == g.shape.qmax || scale == 0) continue;
        EXPECT_LE(std::fabs(xb[j] - ggml_grid_value(g, j, q)), 0.5f * scale * (1 + 1e-5f)) << b << " " << j;
      }
    }
  }
}

TEST(GgmlQuantize, MoreBitsLessError) {
  const std::vector<float> x = test::random_matrix(32, 512, 19);
  double prev = 1e30;
  for (uint32_t id : {10u, 11u, 12u, 13u, 14u, 8u}) {  // Q2_K .. Q6_K, Q8_0
    const double e = quant_error(ggml_block_type(id), x.data(), static_cast<int64_t>(x.size()), nullptr, nullptr);
    EXPECT_LT(e, prev) << ggml_type_name(id);
    prev = e;
  }
}

TEST(GgmlQuantize, ZeroScaleSubBlocksKeepTheReferenceCodes) {
  // A Q6_K block of zeros is stored as all-zero bytes (code -32 everywhere); pack_values of the zero
  // values must reproduce that.
  std::vector<float> x(256, 0.0f);
  const GgmlGrid g = ggml_block_grid(GgmlType::kQ6_K, x.data());
  std::vector<uint8_t> b(210, 0xff);
  ggml_pack_values(g, x.data(), b.data());
  EXPECT_EQ(b, std::vector<uint8_t>(210, 0));
}

TEST(GgmlQuantize, Errors) {
  std::vector<float> x = test::random_matrix(1, 512, 3);
  std::vector<uint8_t> q(4096);
  try {
    ggml_quantize_row_ref(GgmlType::kQ4_K, x.data(), 300, q.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_K: a row of 300 elements is not a whole number of 256-element blocks"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(ggml_quantize_row_ref(GgmlType::kQ4_0, x.data(), 40, q.data()), Error);
  EXPECT_THROW(ggml_row_grids(GgmlType::kQ8_0, x.data(), 33), Error);
  EXPECT_THROW(ggml_quantize_row_ref(GgmlType::kBF16, x.data(), 32, q.data()), Error);
  // Importance on every type but Q8_0 (ggml ignores it there), non-negative.
  std::vector<float> imp(512, 1.0f);
  EXPECT_THROW(ggml_quantize_row(GgmlType::kQ8_0, x.data(), 256, imp.data(), q.data()), Error);
  imp[3] = -1.0f;
  EXPECT_THROW(ggml_quantize_row(GgmlType::kQ4_K, x.data(), 256, imp.data(), q.data()), Error);
  // Non-finite input.
  x[5] = NAN;
  EXPECT_THROW(ggml_quantize_row_ref(GgmlType::kQ8_0, x.data(), 32, q.data()), Error);
  // Off-grid values and out-of-range codes.
  x[5] = 0.5f;
  const GgmlGrid g = ggml_block_grid(GgmlType::kQ4_K, x.data());
  std::vector<float> v(256);
  for (int j = 0; j < 256; ++j) v[j] = ggml_grid_qdq(g, j, x[j]);
  int j_nonzero = 0;
  while (g.dq.scale[j_nonzero / 32] == 0) ++j_nonzero;
  v[j_nonzero] = std::nextafter(v[j_nonzero], 1e9f);
  EXPECT_THROW(ggml_pack_values(g, v.data(), q.data()), Error);
  std::vector<int> codes(256, 16);
  EXPECT_THROW(ggml_pack_codes(g, codes.data(), q.data()), Error);
}

}  // namespace
}  // namespace hessq::formats
