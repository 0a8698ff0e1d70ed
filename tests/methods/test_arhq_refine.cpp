// ARHQ (a) refinement (methods/arhq_refine.hpp): the calibration error it reports is the true layer
// error (independent recomputation), it never ends above plain ARHQ on calibration tokens, and with
// zero iterations it returns plain ARHQ.
#include <gtest/gtest.h>

#include "arhq_test_problem.hpp"
#include "hessq/methods/arhq_refine.hpp"

namespace hessq {
namespace {

using methods::MatF;
using Md = Eigen::MatrixXd;

// ||X W^T - Q_x(X) Q_w(W_res)^T - X A B^T||_F^2 in double.
double true_error(const test::LayerProblem& p, const methods::LayerFormat& f, const methods::ArhqResult& s) {
  const Md X = p.X_calib.cast<double>();
  const Md Qx = methods::fake_quant_padded(f.x, p.X_calib).cast<double>();
  const Md Rq = methods::fake_quant_padded(f.w, s.W_res).cast<double>();
  const Md D = X * p.W.cast<double>().transpose() - Qx * Rq.transpose() -
               X * s.A.cast<double>() * s.B.cast<double>().transpose();
  return D.squaredNorm();
}

constexpr double kSumTol = 1e-4;  // fp32 GEMMs in the solver vs double here, relative on ||D||^2

TEST(ArhqRefine, ReportsTrueErrorAndNeverEndsWorse) {
  const test::LayerProblem p = test::layer_problem();
  const auto f = methods::parse_layer_format("nvfp4");
  const linalg::Mat G = methods::residual_hessian(p.X_calib, f.x);
  methods::ArhqOptions o;
  o.rank = 8;
  const auto plain = methods::solve_arhq(p.W, G, o);
  methods::RefineOptions ro;
  ro.iters = 3;
  const auto rr = methods::refine_arhq(p.W, p.X_calib, f, plain, ro);
  ASSERT_EQ(rr.cal_noise.size(), 4u);
  EXPECT_NEAR(rr.cal_noise[0], true_error(p, f, plain), kSumTol * rr.cal_noise[0]);
  EXPECT_NEAR(rr.cal_noise[rr.best_iter], true_error(p, f, rr.best), kSumTol * rr.cal_noise[0]);
  for (double e : rr.cal_noise) EXPECT_GE(e, rr.cal_noise[rr.best_iter]);
  EXPECT_EQ(rr.best.A.cols(), 8);
  // On this problem the refinement does improve the calibration error.
  EXPECT_LT(rr.cal_noise[rr.best_iter], rr.cal_noise[0]);
}

TEST(ArhqRefine, ZeroIterationsIsPlainArhq) {
  const test::LayerProblem p = test::layer_problem();
  const auto f = methods::parse_layer_format("int4");
  const linalg::Mat G = methods::residual_hessian(p.X_calib, f.x);
  methods::ArhqOptions o;
  o.rank = 4;
  const auto plain = methods::solve_arhq(p.W, G, o);
  methods::RefineOptions ro;
  ro.iters = 0;
  const auto rr = methods::refine_arhq(p.W, p.X_calib, f, plain, ro);
  EXPECT_EQ(rr.best_iter, 0);
  EXPECT_TRUE((rr.best.W_res.array() == plain.W_res.array()).all());
}

}  // namespace
}  // namespace hessq
