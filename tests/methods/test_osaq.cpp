// OSAQ on seeded layers whose inputs have an exact null space (make_gapped_problem: X = Z diag(sigma)
// Q^T + noise 1e-5, 96..120 signal directions of n = 128): the float output on held-out tokens is
// unchanged (checked with the tokens themselves), the outliers of W + dW shrink, K follows the energy
// rule on a hand-built spectrum, and the null spaces of two calibration halves coincide.
//
// Two METHODS.md defaults do not hold up on these problems, so the tests name the options they use:
// - K rule: "smallest k with tail energy >= gamma" always takes the eigenvalue that crosses gamma into
//   N; with a spectrum gap that is a signal direction and the output changes by 17% (the
//   KRuleReachTakesTheCrossingDirection test pins it). OsaqKRule::Below stops at the gap.
// - tau = 0.1 concentrates the softmax on the top few entries, which the solve then zeroes at the
//   expense of the rest: with K << n the row max grows (K = 8 of 128: 15 of 64 rows improve, the
//   mean row max goes 0.63 -> 0.85). tau = 0.3 lowers it in 54..55 of 64 rows for K = 8..32.
//   OutliersShrink records both.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/methods/osaq.hpp"
#include "problems.hpp"

namespace hessq::methods {
namespace {

using test::make_gapped_problem;

// ||X_held dW^T|| / ||X_held W^T||: METHODS.md asks for "tiny"; this is the bar.
constexpr double kMaxOutputChange = 1e-3;
// Principal angles between the null spaces of two halves of the calibration set: sampling noise
// rotates them by ~noise / sigma_min (1e-5 / 0.5 here, ~1e-4 measured); unrelated subspaces would
// be ~1 rad apart.
constexpr double kMaxAngle = 1e-2;

test::ProblemShape shape(int64_t rank) {
  test::ProblemShape sh;
  sh.rank = rank;
  return sh;
}

OsaqOptions below_rule(double tau = 0.1) {
  OsaqOptions o;
  o.k_rule = OsaqKRule::Below;
  o.tau = tau;
  return o;
}

// Direct ratio from the tokens (the oracle for output_change_ratio).
double token_ratio(const linalg::Mat& X, const MatF& W, const MatF& dW) {
  return (X * dW.cast<double>().transpose()).norm() / (X * W.cast<double>().transpose()).norm();
}

TEST(Osaq, HeldOutOutputUnchanged) {
  for (int64_t rank : {96, 112}) {
    const auto P = make_gapped_problem(shape(rank));
    for (double tau : {0.1, 0.3}) {
      const OsaqResult r = solve_osaq(P.W, P.H, below_rule(tau));
      EXPECT_EQ(r.K, 128 - rank);
      const double ratio = token_ratio(P.X_held, P.W, r.dW);
      EXPECT_LE(ratio, kMaxOutputChange) << "rank " << rank << " tau " << tau;
      // The same quantity via H: tr(dW H dW^T) cancels down from ||H|| ||dW||^2 by ~1 / ratio^2 (~1e9
      // here), so double round-off leaves ~1e-7 relative; 1e-5 is the bar.
      EXPECT_NEAR(output_change_ratio(P.W, r.dW, P.H_held), ratio, 1e-5 * ratio);
      // dW is not trivially small: it moves the weights by a visible fraction of their norm.
      EXPECT_GT(r.dW.norm(), 0.05 * P.W.norm());
      RecordProperty("ratio_rank" + std::to_string(rank) + "_tau" + std::to_string(tau), std::to_string(ratio));
    }
  }
}

TEST(Osaq, OutliersShrink) {
  for (int64_t rank : {96, 112, 120}) {
    const auto P = make_gapped_problem(shape(rank));
    const OsaqResult r = solve_osaq(P.W, P.H, below_rule(0.3));
    const MatF Wn = P.W + r.dW;
    int improved = 0;
    for (int64_t i = 0; i < P.W.rows(); ++i)
      improved += Wn.row(i).cwiseAbs().maxCoeff() < P.W.row(i).cwiseAbs().maxCoeff();
    EXPECT_LT(r.row_maxabs_after, r.row_maxabs_before) << "rank " << rank;
    EXPECT_LT(r.maxabs_after, r.maxabs_before) << "rank " << rank;
    EXPECT_GE(improved, 48) << "rank " << rank << ": rows whose max |w| shrank, of 64";
    EXPECT_DOUBLE_EQ(r.maxabs_before, P.W.cwiseAbs().maxCoeff());
    EXPECT_DOUBLE_EQ(r.maxabs_after, Wn.cwiseAbs().maxCoeff());
    RecordProperty("rows_improved_rank" + std::to_string(rank), improved);
    RecordProperty("row_maxabs_rank" + std::to_string(rank),
                   std::to_string(r.row_maxabs_before) + " -> " + std::to_string(r.row_maxabs_after));
    // The METHODS.md default tau = 0.1 on the same layer, recorded (not asserted) for the report.
    const OsaqResult d = solve_osaq(P.W, P.H, below_rule(0.1));
    const MatF Wd = P.W + d.dW;
    int improved_d = 0;
    for (int64_t i = 0; i < P.W.rows(); ++i)
      improved_d += Wd.row(i).cwiseAbs().maxCoeff() < P.W.row(i).cwiseAbs().maxCoeff();
    RecordProperty("tau0.1_rows_improved_rank" + std::to_string(rank), improved_d);
    RecordProperty("tau0.1_row_maxabs_rank" + std::to_string(rank),
                   std::to_string(d.row_maxabs_before) + " -> " + std::to_string(d.row_maxabs_after));
  }
}

// row_guard on the layer where the METHODS.md tau = 0.1 raises most rows' max (K = 8 of 128): every
// kept row shrinks, the others are untouched, and the output stays unchanged.
TEST(Osaq, RowGuardKeepsOnlyShrinkingRows) {
  const auto P = make_gapped_problem(shape(120));
  const OsaqResult plain = solve_osaq(P.W, P.H, below_rule(0.1));
  OsaqOptions o = below_rule(0.1);
  o.row_guard = true;
  const OsaqResult g = solve_osaq(P.W, P.H, o);
  const MatF Wp = P.W + plain.dW, Wg = P.W + g.dW;
  int64_t shrinking = 0;
  for (int64_t i = 0; i < P.W.rows(); ++i) {
    const float before = P.W.row(i).cwiseAbs().maxCoeff();
    const bool shrinks = Wp.row(i).cwiseAbs().maxCoeff() <= before;
    shrinking += shrinks;
    if (shrinks)
      EXPECT_TRUE(g.dW.row(i) == plain.dW.row(i)) << "row " << i;
    else
      EXPECT_TRUE(g.dW.row(i).isZero(0)) << "row " << i;
    EXPECT_LE(Wg.row(i).cwiseAbs().maxCoeff(), before) << "row " << i;
  }
  EXPECT_EQ(g.rows_changed, shrinking);
  EXPECT_EQ(plain.rows_changed, P.W.rows());
  EXPECT_LT(shrinking, P.W.rows());  // the guard acts here
  EXPECT_GT(shrinking, 0);
  EXPECT_GT(plain.row_maxabs_after, plain.row_maxabs_before);
  EXPECT_LT(g.row_maxabs_after, g.row_maxabs_before);
  EXPECT_LE(token_ratio(P.X_held, P.W, g.dW), kMaxOutputChange);
  RecordProperty("rows_kept", std::to_string(shrinking));
}

// H = Q diag(l) Q^T with a hand-made spectrum (total 10.001002):
//   l = 0 0 0 1e-6 1e-6 1e-3 1 (x10)
// gamma 1e-4 (target 1.0001e-3): tail energies 0,0,0,1e-6,2e-6,1.002e-3 -> Reach K = 6, Below K = 5.
// gamma 1e-7 (target 1.0001e-6): Reach K = 5 (2e-6 is the first >=), Below K = 4.
TEST(Osaq, KMatchesHandCount) {
  const linalg::Vec l = (linalg::Vec(16) << 0, 0, 0, 1e-6, 1e-6, 1e-3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1).finished();
  EXPECT_EQ(osaq_null_dim(l, 1e-4, OsaqKRule::Reach), 6);
  EXPECT_EQ(osaq_null_dim(l, 1e-4, OsaqKRule::Below), 5);
  EXPECT_EQ(osaq_null_dim(l, 1e-7, OsaqKRule::Reach), 5);
  EXPECT_EQ(osaq_null_dim(l, 1e-7, OsaqKRule::Below), 4);
  EXPECT_EQ(osaq_null_dim(l, 0.0, OsaqKRule::Reach), 0);
  EXPECT_EQ(osaq_null_dim(l, 1.0, OsaqKRule::Reach), 16);
  // Through eigh of the assembled H: same K, and N spans the first K columns of Q.
  test::Rng rng(7);
  const linalg::Mat Q = Eigen::HouseholderQR<linalg::Mat>(test::normal_matrix(16, 16, rng)).householderQ();
  const linalg::Mat H = Q * l.asDiagonal() * Q.transpose();
  const linalg::Mat N = osaq_null_space(H, 1e-4);
  ASSERT_EQ(N.cols(), 6);
  const linalg::Vec cosines = linalg::svd(Q.leftCols(6).transpose() * N).S;
  EXPECT_NEAR(cosines.minCoeff(), 1.0, 1e-9);  // eigh round-off on a matrix of norm 1
  const linalg::Mat W16 = linalg::Mat::Ones(2, 16);
  EXPECT_EQ(solve_osaq(MatF(W16.cast<float>()), H).K, 6);
}

TEST(Osaq, KRuleReachTakesTheCrossingDirection) {
  const auto P = make_gapped_problem(shape(96));
  const OsaqResult r = solve_osaq(P.W, P.H);  // METHODS.md defaults
  EXPECT_EQ(r.K, 33);                         // the 32 null directions + the smallest signal one
  const double ratio = token_ratio(P.X_held, P.W, r.dW);
  EXPECT_GT(ratio, 0.01);
  RecordProperty("ratio_reach_default", std::to_string(ratio));
}

TEST(Osaq, NullSpacesOfCalibrationHalvesAgree) {
  const auto P = make_gapped_problem(shape(96));
  const linalg::Mat Ha = test::hessian_of(P.X.topRows(512)), Hb = test::hessian_of(P.X.bottomRows(512));
  const std::vector<double> a = null_space_angles(Ha, Hb, 1e-4, OsaqKRule::Below);
  ASSERT_EQ(a.size(), 32u);
  for (double x : a) EXPECT_LE(x, kMaxAngle);
  RecordProperty("max_angle_rad", std::to_string(a.back()));
  // Different K (32 vs 28 null directions, same basis): min(K) angles, all ~0.
  const auto P2 = make_gapped_problem(shape(100));
  const std::vector<double> b = null_space_angles(P.H, P2.H, 1e-4, OsaqKRule::Below);
  ASSERT_EQ(b.size(), 28u);
  for (double x : b) EXPECT_LE(x, kMaxAngle);
  // Unrelated inputs: far apart.
  auto sh = shape(96);
  sh.seed = 99;
  const std::vector<double> c = null_space_angles(P.H, make_gapped_problem(sh).H, 1e-4, OsaqKRule::Below);
  EXPECT_GT(c.back(), 0.5);
}

TEST(Osaq, EmptyNullSpaceGivesZeroChange) {
  const auto P = make_gapped_problem(shape(96));
  OsaqOptions o;
  o.gamma = 0;
  const OsaqResult r = solve_osaq(P.W, P.H, o);
  EXPECT_EQ(r.K, 0);
  EXPECT_TRUE((r.dW.array() == 0).all());
  EXPECT_EQ(r.maxabs_after, r.maxabs_before);
  EXPECT_TRUE(null_space_angles(P.H, P.H, 0.0).empty());
  // A zero row stays zero.
  MatF W = P.W;
  W.row(3).setZero();
  const OsaqResult z = solve_osaq(W, P.H, below_rule());
  EXPECT_TRUE((z.dW.row(3).array() == 0).all());
}

TEST(Osaq, DeterministicAcrossThreadCounts) {
  const auto P = make_gapped_problem(shape(112));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const OsaqResult a = solve_osaq(P.W, P.H, below_rule());
  omp_set_num_threads(3);
  const OsaqResult b = solve_osaq(P.W, P.H, below_rule());
  omp_set_num_threads(saved);
  EXPECT_TRUE(a.dW == b.dW);
}

TEST(Osaq, SharedBasisGivesTheSameChange) {
  const auto P = make_gapped_problem(shape(112));
  const OsaqOptions o = below_rule(0.3);
  const linalg::Mat N = osaq_null_space(P.H, o.gamma, o.k_rule);
  const OsaqResult a = solve_osaq(P.W, P.H, o), b = solve_osaq_basis(P.W, N, o);
  EXPECT_EQ(a.K, b.K);
  EXPECT_TRUE(a.dW == b.dW);
  test::expect_error([&] { solve_osaq_basis(P.W, N.topRows(100), o); }, "null basis N is [100, 16]");
}

TEST(Osaq, BadInputNamesTheProblem) {
  const auto P = make_gapped_problem(shape(96));
  test::expect_error([&] { solve_osaq(P.W, P.H.topLeftCorner(100, 100)); },
                     "osaq: H is [100, 100], expected [128, 128]");
  MatF bad = P.W;
  bad(1, 2) = NAN;
  test::expect_error([&] { solve_osaq(bad, P.H); }, "osaq: W [64, 128] has a non-finite value (nan) at [1, 2]");
  OsaqOptions o;
  o.tau = 0;
  test::expect_error([&] { solve_osaq(P.W, P.H, o); }, "tau = 0");
  o = {};
  o.gamma = 2;
  test::expect_error([&] { solve_osaq(P.W, P.H, o); }, "gamma = 2");
  test::expect_error([&] { output_change_ratio(P.W, MatF::Zero(3, 3), P.H); }, "dW is [3, 3]");
  test::expect_error([&] { null_space_angles(P.H, P.H.topLeftCorner(5, 5), 1e-4); }, "H_b is [5, 5]");
}

}  // namespace
}  // namespace hessq::methods
