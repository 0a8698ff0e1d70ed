// ARHQ (methods/arhq.hpp): the objective ||E (W - L)^T||_F against SVDQuant and against the closed
// form, G = I equals SVDQuant, rank 0 / full rank / too large, singular and zero G.
#include <gtest/gtest.h>

#include "arhq_test_problem.hpp"
#include "hessq/core/error.hpp"
#include "hessq/methods/arhq.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/svdquant.hpp"

namespace hessq {
namespace {

using methods::MatF;
using Md = Eigen::MatrixXd;

// fp32 factors and W_res (relative rounding ~1e-7 per entry, summed over n = 128 products).
constexpr double kFloatTol = 1e-5;
// Relative eps 1e-6 perturbs the metric by at most 1e-6 * max(l): the objective moves by that order.
constexpr double kClampTol = 1e-6;

// ||E R^T||_F with E = X - Q_x(X), in double: the oracle of the objective.
double residual_objective(const MatF& X, const MatF& R, const formats::QuantSpec& xq) {
  const Md E = (X - methods::fake_quant_padded(xq, X)).cast<double>();
  return (E * R.cast<double>().transpose()).norm();
}

// G = E^T E / N by explicit sums.
Md naive_G(const MatF& X, const formats::QuantSpec& xq) {
  const MatF E = X - methods::fake_quant_padded(xq, X);
  Md G = Md::Zero(X.cols(), X.cols());
  for (Eigen::Index t = 0; t < E.rows(); ++t)
    for (Eigen::Index i = 0; i < E.cols(); ++i)
      for (Eigen::Index j = 0; j < E.cols(); ++j) G(i, j) += static_cast<double>(E(t, i)) * E(t, j);
  return G / static_cast<double>(E.rows());
}

class ArhqTest : public ::testing::Test {
 protected:
  test::LayerProblem p = test::layer_problem();
  methods::LayerFormat f = methods::parse_layer_format("nvfp4");
  linalg::Mat G = methods::residual_hessian(p.X_calib, f.x);
  methods::ArhqOptions opt(int r) const {
    methods::ArhqOptions o;
    o.rank = r;
    return o;
  }
};

TEST_F(ArhqTest, ResidualHessianMatchesNaiveSum) {
  const Md ref = naive_G(p.X_calib, f.x);
  EXPECT_LE((G - ref).norm(), 1e-10 * ref.norm());  // both in double; only summation order differs
}

TEST_F(ArhqTest, ObjectiveNeverAboveSvdquantAtEqualRank) {
  for (int r : {1, 4, 8, 16, 32, 63}) {
    const auto a = methods::solve_arhq(p.W, G, opt(r));
    const auto s = methods::solve_svdquant(p.W, opt(r));
    const double obj_a = residual_objective(p.X_calib, a.W_res, f.x);
    const double obj_s = residual_objective(p.X_calib, s.W_res, f.x);
    EXPECT_LE(obj_a, obj_s * (1 + kClampTol)) << "rank " << r;
    EXPECT_LT(obj_a, obj_s) << "rank " << r << ": ARHQ should strictly win on this problem";
  }
}

TEST_F(ArhqTest, ObjectiveEqualsClosedFormTail) {
  // min over rank-r L of N tr((W-L) G (W-L)^T) = N * sum_{i>r} s_i^2, s = singular values of W G^(1/2);
  // oracle via Eigen's own eigensolver and Jacobi SVD (not the LAPACK path under test).
  Eigen::SelfAdjointEigenSolver<Md> es(G);
  const Md root = es.eigenvectors() * es.eigenvalues().cwiseMax(0).cwiseSqrt().asDiagonal() * es.eigenvectors().transpose();
  Eigen::JacobiSVD<Md> svd(p.W.cast<double>() * root);
  const Eigen::VectorXd sv = svd.singularValues();
  const double N = static_cast<double>(p.X_calib.rows());
  for (int r : {4, 16}) {
    const double tail = sv.tail(sv.size() - r).squaredNorm() * N;
    const double obj = residual_objective(p.X_calib, methods::solve_arhq(p.W, G, opt(r)).W_res, f.x);
    EXPECT_NEAR(obj * obj, tail, kFloatTol * tail) << "rank " << r;
  }
}

TEST_F(ArhqTest, IdentityMetricIsSvdquant) {
  const Md I = Md::Identity(p.W.cols(), p.W.cols());
  for (int r : {4, 16}) {
    const auto a = methods::solve_arhq(p.W, I, opt(r));
    const auto s = methods::solve_svdquant(p.W, opt(r));
    EXPECT_EQ(a.clamped, 0);
    EXPECT_LE((a.W_res - s.W_res).cwiseAbs().maxCoeff(), kFloatTol) << "rank " << r;
    EXPECT_LE((a.S - s.S).norm(), 1e-10 * s.S.norm());  // same singular values of W (double)
  }
}

TEST_F(ArhqTest, BranchPlusResidualIsW) {
  const auto a = methods::solve_arhq(p.W, G, opt(8));
  ASSERT_EQ(a.A.rows(), p.W.cols());
  ASSERT_EQ(a.B.rows(), p.W.rows());
  ASSERT_EQ(a.A.cols(), 8);
  const MatF L = a.B * a.A.transpose();
  EXPECT_LE((a.W_res + L - p.W).cwiseAbs().maxCoeff(), kFloatTol);
}

TEST_F(ArhqTest, RankZeroIsThePlainLayer) {
  const auto a = methods::solve_arhq(p.W, G, opt(0));
  EXPECT_EQ(a.A.cols(), 0);
  EXPECT_EQ(a.B.cols(), 0);
  EXPECT_TRUE((a.W_res.array() == p.W.array()).all());
}

TEST_F(ArhqTest, FullRankBranchHoldsTheWeight) {
  const int k = static_cast<int>(std::min(p.W.rows(), p.W.cols()));
  const auto a = methods::solve_arhq(p.W, G, opt(k));
  EXPECT_LE(a.W_res.norm(), kFloatTol * p.W.norm());
}

TEST_F(ArhqTest, RankAboveMinDimensionThrows) {
  const int k = static_cast<int>(std::min(p.W.rows(), p.W.cols()));
  EXPECT_THROW(methods::solve_arhq(p.W, G, opt(k + 1)), Error);
  EXPECT_THROW(methods::solve_svdquant(p.W, opt(k + 1)), Error);
  EXPECT_THROW(methods::solve_arhq(p.W, G, opt(-1)), Error);
}

TEST_F(ArhqTest, SingularMetricIsClampedAndStillBeatsSvdquant) {
  test::LayerProblem q = p;
  q.X_calib.col(5).setZero();  // a dead channel: G has a zero row and column
  q.X_calib.col(6).setZero();
  const linalg::Mat Gs = methods::residual_hessian(q.X_calib, f.x);
  const auto a = methods::solve_arhq(q.W, Gs, opt(8));
  EXPECT_GE(a.clamped, 2);
  EXPECT_TRUE(a.W_res.allFinite() && a.A.allFinite() && a.B.allFinite());
  const auto s = methods::solve_svdquant(q.W, opt(8));
  EXPECT_LE(residual_objective(q.X_calib, a.W_res, f.x), residual_objective(q.X_calib, s.W_res, f.x));
  methods::ArhqOptions abs = opt(8);
  abs.eps_relative = false;  // the reference code's absolute 1e-6
  EXPECT_GE(methods::solve_arhq(q.W, Gs, abs).clamped, 2);
}

TEST_F(ArhqTest, ZeroMetricThrows) {
  const Md Z = Md::Zero(p.W.cols(), p.W.cols());
  EXPECT_THROW(methods::solve_arhq(p.W, Z, opt(4)), Error);
  EXPECT_THROW(methods::arhq_h_metric(Z, Z, 16), Error);
}

TEST_F(ArhqTest, ExactSolutionsArePrefixes) {
  const auto full = methods::solve_arhq(p.W, G, opt(32));
  for (int r : {0, 4, 8}) {
    const auto cut = methods::truncate_rank(full, p.W, r);
    const auto direct = methods::solve_arhq(p.W, G, opt(r));
    EXPECT_LE((cut.W_res - direct.W_res).cwiseAbs().maxCoeff(), kFloatTol) << "rank " << r;
  }
}

TEST_F(ArhqTest, RandomizedSvdIsCloseToExact) {
  methods::ArhqOptions o = opt(16);
  const auto exact = methods::solve_arhq(p.W, G, o);
  o.svd = methods::SvdKind::Randomized;
  o.power_iters = 4;
  const auto rnd = methods::solve_arhq(p.W, G, o);
  EXPECT_EQ(rnd.svd, methods::SvdKind::Randomized);
  const double oe = methods::metric_objective(exact.W_res, G), orr = methods::metric_objective(rnd.W_res, G);
  EXPECT_GE(orr, oe * (1 - kFloatTol));  // exact is the minimizer
  EXPECT_LE(orr, oe * 1.02);             // 4 power iterations: within 2% on a flat-spectrum 64x128 problem
}

TEST_F(ArhqTest, ArhqHMetricAddsScaledG) {
  const Md H = p.X_calib.cast<double>().transpose() * p.X_calib.cast<double>() / p.X_calib.rows();
  EXPECT_LE((methods::arhq_h_metric(H, G, 0) - H).norm(), 0.0);
  const double beta = H.diagonal().mean() / G.diagonal().mean();
  EXPECT_LE((methods::arhq_h_metric(H, G, 16) - (H + 16 * beta * G)).norm(), 1e-12 * H.norm());
}

}  // namespace
}  // namespace hessq
