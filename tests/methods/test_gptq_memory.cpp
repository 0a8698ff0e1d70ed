// GPTQ's memory path: H handed over by rvalue (factored inside its own buffer) against the
// const-reference form (which copies H); the in-place linear algebra it runs on (only the upper
// triangle touched, bit-identical to the copying forms); the proxy loss from the factor against the
// direct GEMM on H; and calib::Stats::take_H, which hands H over without a copy.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "hessq/calib/stats.hpp"
#include "hessq/core/error.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/gptq_mx.hpp"
#include "hessq/methods/rtn.hpp"
#include "problems.hpp"

namespace hessq::methods {
namespace {

using formats::parse_spec;
using test::expect_error;
using test::make_problem;

// A problem with dead inputs (zero columns of X, so zero rows and columns of H), the case where
// step 1 and the proxy loss's dead-column term matter.
test::Problem problem_with_dead_inputs() {
  auto P = make_problem();
  for (int64_t j : {0, 5, 77}) P.X.col(j).setZero();
  P.H = test::hessian_of(P.X);
  return P;
}

bool same_params(const std::vector<formats::IntParams>& a, const std::vector<formats::IntParams>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].scale != b[i].scale || a[i].zero != b[i].zero) return false;
  return true;
}

TEST(GptqMemory, RvalueAndConstRefAgreeBitwise) {
  for (bool with_dead : {false, true}) {
    const auto P = with_dead ? problem_with_dead_inputs() : make_problem();
    for (const char* name : {"int4", "int3-asym-g32", "int2-g32", "int4-tensor"})
      for (bool act_order : {false, true}) {
        GptqOptions opt;
        opt.act_order = act_order;
        const auto spec = parse_spec(name);
        const QuantizedWeight a = solve_gptq(P.W, P.H, spec, opt);
        linalg::Mat H = P.H;
        const QuantizedWeight b = solve_gptq(P.W, std::move(H), spec, opt);
        const std::string what = std::string(name) + (act_order ? " act_order" : "") + (with_dead ? " dead" : "");
        EXPECT_TRUE(a.W_q == b.W_q) << what;
        EXPECT_TRUE(same_params(a.int_params, b.int_params)) << what;
        EXPECT_EQ(a.proxy_loss, b.proxy_loss) << what;
        EXPECT_EQ(H.size(), 0) << what << ": the rvalue form consumes H";
      }
  }
}

TEST(GptqMemory, MxAndNvfp4RvalueAndConstRefAgreeBitwise) {
  const auto P = problem_with_dead_inputs();
  for (const char* name : {"mxfp4", "nvfp4"}) {
    const auto spec = parse_spec(name);
    auto solve = [&](auto&& H) {
      return spec.format == formats::Format::MxFp4 ? solve_gptq_mx(P.W, std::forward<decltype(H)>(H), spec)
                                                   : solve_gptq_nvfp4(P.W, std::forward<decltype(H)>(H), spec);
    };
    const QuantizedWeight a = solve(P.H);
    linalg::Mat H = P.H;
    const QuantizedWeight b = solve(std::move(H));
    EXPECT_TRUE(a.W_q == b.W_q) << name;
    EXPECT_EQ(a.proxy_loss, b.proxy_loss) << name;
    EXPECT_EQ(H.size(), 0) << name << ": the rvalue form consumes H";
    ASSERT_EQ(a.packed.has_value(), b.packed.has_value()) << name;
    if (a.packed) {
      EXPECT_TRUE(a.packed->codes == b.packed->codes) << name;
      EXPECT_TRUE(a.packed->scales == b.packed->scales) << name;
    }
  }
}

// The loss from the Cholesky factor (gptq.hpp step 7) against a plain double GEMM on the caller's
// undamped H (rtn.hpp proxy_loss): the same quantity up to round-off, dead inputs included.
TEST(GptqMemory, ProxyLossFromFactorMatchesDirectTrace) {
  constexpr double kRel = 1e-12;
  for (bool with_dead : {false, true}) {
    const auto P = with_dead ? problem_with_dead_inputs() : make_problem();
    for (bool act_order : {false, true}) {
      GptqOptions opt;
      opt.act_order = act_order;
      const QuantizedWeight g = solve_gptq(P.W, P.H, parse_spec("int3-g32"), opt);
      const double direct = proxy_loss(P.W, g.W_q, P.H);
      EXPECT_NEAR(g.proxy_loss, direct, kRel * direct) << (act_order ? "act_order " : "") << with_dead;
    }
    for (const char* name : {"mxfp4", "nvfp4"}) {
      const auto spec = parse_spec(name);
      const QuantizedWeight g = spec.format == formats::Format::MxFp4 ? solve_gptq_mx(P.W, P.H, spec)
                                                                      : solve_gptq_nvfp4(P.W, P.H, spec);
      const double direct = proxy_loss(P.W, g.W_q, P.H);
      EXPECT_NEAR(g.proxy_loss, direct, kRel * direct) << name << " " << with_dead;
    }
  }
}

TEST(GptqMemory, RvalueFormReportsTheSameErrors) {
  const auto P = make_problem();
  expect_error([&] { solve_gptq(P.W, linalg::Mat(P.H.topLeftCorner(64, 64)), parse_spec("int4"), {}); },
               "H is [64, 64], expected [128, 128]");
  linalg::Mat Hind = linalg::Mat::Identity(128, 128);
  Hind(0, 1) = Hind(1, 0) = 2;
  GptqOptions opt;
  opt.damp = 0;
  expect_error([&] { solve_gptq(P.W, linalg::Mat(Hind), parse_spec("int4"), opt); }, "damp 0");
  expect_error([&] { solve_gptq_mx(P.W, linalg::Mat(Hind), parse_spec("mxfp4"), opt); }, "not positive definite");
}

// A symmetric positive definite matrix with sentinel values in its strict lower triangle.
linalg::Mat spd_with_marked_lower(int64_t n, double sentinel) {
  test::Rng rng(7);
  const linalg::Mat X = test::normal_matrix(2 * n, n, rng);
  linalg::Mat A = X.transpose() * X / static_cast<double>(2 * n) + linalg::Mat::Identity(n, n);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = j + 1; i < n; ++i) A(i, j) = sentinel;
  return A;
}

bool strict_lower_is(const linalg::Mat& A, double v) {
  for (int64_t j = 0; j < A.cols(); ++j)
    for (int64_t i = j + 1; i < A.rows(); ++i)
      if (A(i, j) != v) return false;
  return true;
}

// Sizes past OpenBLAS's blocking thresholds, so the blocked LAPACK paths run.
TEST(LinalgInPlace, UpperTriangleOnlyAndBitIdenticalToCopyingForms) {
  for (int64_t n : {1, 7, 300}) {
    const linalg::Mat A = spd_with_marked_lower(n, -7.5);
    linalg::Mat full = A;
    linalg::symmetrize_from_upper(full);
    EXPECT_TRUE(full == full.transpose()) << n;

    linalg::Mat C = A;
    linalg::cholesky_upper_in_place(C);
    EXPECT_TRUE(strict_lower_is(C, -7.5)) << n;
    const linalg::Mat R = linalg::cholesky_upper(full);
    EXPECT_TRUE(linalg::Mat(C.triangularView<Eigen::Upper>()) == R) << n;

    linalg::Mat I = C;
    linalg::upper_triangular_inverse_in_place(I);
    EXPECT_TRUE(strict_lower_is(I, -7.5)) << n;
    EXPECT_TRUE(linalg::Mat(I.triangularView<Eigen::Upper>()) == linalg::upper_triangular_inverse(R)) << n;

    linalg::Mat S = C;
    linalg::cholesky_inverse_in_place(S);
    EXPECT_TRUE(strict_lower_is(S, -7.5)) << n;
    EXPECT_TRUE(linalg::Mat(S.selfadjointView<Eigen::Upper>()) == linalg::spd_inverse(full)) << n;

    linalg::Mat M = C;  // R^T below, R above: from_lower restores R's strict upper triangle
    linalg::symmetrize_from_upper(M);
    M.triangularView<Eigen::StrictlyUpper>().setZero();
    linalg::symmetrize_from_lower(M);
    EXPECT_TRUE(linalg::Mat(M.triangularView<Eigen::Upper>()) == R) << n;
  }
  linalg::Mat bad = spd_with_marked_lower(4, 0.0);
  bad(1, 1) = -1;
  expect_error([&] { linalg::cholesky_upper_in_place(bad); }, "not positive definite");
  bad(0, 2) = NAN;
  expect_error([&] { linalg::cholesky_upper_in_place(bad); }, "NaN or Inf");
  linalg::Mat rect(3, 4);
  expect_error([&] { linalg::cholesky_upper_in_place(rect); }, "expected square");
}

TEST(StatsTakeH, MovesOutBitIdenticalHAndLeavesNoXtX) {
  constexpr int64_t n = 24, tokens = 50;
  test::Rng rng(3);
  std::vector<float> X(tokens * n);
  for (float& x : X) x = static_cast<float>(rng.normal());
  calib::Stats st(n);
  st.add(X.data(), tokens, n);
  const linalg::Mat H = st.H();
  const linalg::Vec absmean = st.absmean();
  const double* buffer = st.XtX.data();
  const linalg::Mat taken = st.take_H();
  EXPECT_TRUE(taken == H);
  EXPECT_EQ(taken.data(), buffer) << "take_H hands over XtX's own buffer";
  EXPECT_EQ(st.XtX.size(), 0);
  EXPECT_EQ(st.N, tokens);
  EXPECT_TRUE(st.absmean() == absmean);
  expect_error([&] { st.H(); }, "handed over by take_H()");
  expect_error([&] { st.take_H(); }, "handed over by take_H()");
  expect_error([&] { st.add(X.data(), tokens, n); }, "handed over by take_H()");
  calib::Stats other(n);
  expect_error([&] { other.merge(st); }, "handed over by take_H()");
  calib::Stats empty(n);
  expect_error([&] { empty.take_H(); }, "no calibration tokens");
}

// The pipeline's use: statistics straight into GPTQ, no n x n copy, the same result as H().
TEST(StatsTakeH, FeedsGptqLikeH) {
  const auto P = make_problem();
  calib::Stats st(P.X.cols());
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Xr = P.X.cast<float>();  // [tokens, n]
  st.add(Xr.data(), Xr.rows(), Xr.cols());
  const linalg::Mat H = st.H();
  const QuantizedWeight a = solve_gptq(P.W, H, parse_spec("int4-g32"), {});
  const QuantizedWeight b = solve_gptq(P.W, st.take_H(), parse_spec("int4-g32"), {});
  EXPECT_TRUE(a.W_q == b.W_q);
  EXPECT_EQ(a.proxy_loss, b.proxy_loss);
}

}  // namespace
}  // namespace hessq::methods
