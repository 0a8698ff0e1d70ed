// SmoothQuant (methods/smoothquant.hpp): the scale formula by hand, float outputs unchanged by
// smoothing, the alpha search picks its grid's minimum, dead channels stay finite.
#include <gtest/gtest.h>

#include "arhq_test_problem.hpp"
#include "hessq/core/error.hpp"
#include "hessq/methods/smoothquant.hpp"

namespace hessq {
namespace {

using methods::MatF;
using methods::VecF;

// Smoothing is exact in real arithmetic; fp32 scaling and GEMM leave ~1e-6 relative.
constexpr double kSmoothTol = 1e-5;

TEST(SmoothQuant, ScalesByHand) {
  MatF W(2, 3);
  W << 1, -4, 0.5,  //
      -2, 1, 0.25;
  VecF absmax(3);
  absmax << 9, 1, 16;
  const VecF s = methods::smooth_scales(W, absmax, 0.5);
  // s_j = sqrt(absmax_j) / sqrt(max_i |W_ij|): sqrt(9)/sqrt(2), sqrt(1)/sqrt(4), sqrt(16)/sqrt(0.5)
  EXPECT_NEAR(s[0], 3 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(s[1], 0.5, 1e-6);
  EXPECT_NEAR(s[2], 4 / std::sqrt(0.5), 1e-6);
  const VecF s1 = methods::smooth_scales(W, absmax, 1.0);  // alpha = 1: s = absmax
  EXPECT_NEAR(s1[2], 16, 1e-5);
  const VecF s0 = methods::smooth_scales(W, absmax, 0.0);  // alpha = 0: s = 1 / max|W|
  EXPECT_NEAR(s0[1], 0.25, 1e-7);
  EXPECT_THROW(methods::smooth_scales(W, absmax, 1.5), Error);
}

TEST(SmoothQuant, FloatOutputUnchanged) {
  const test::LayerProblem p = test::layer_problem();
  const VecF absmax = methods::column_absmax(p.X_calib);
  const MatF Y = methods::matmul_nt(p.X_eval, p.W);
  for (double alpha : {0.0, 0.3, 0.5, 0.85, 1.0}) {
    const VecF s = methods::smooth_scales(p.W, absmax, alpha);
    const MatF Ys = methods::matmul_nt(methods::smooth_input(p.X_eval, s), methods::smooth_weight(p.W, s));
    EXPECT_LE((Ys - Y).norm(), kSmoothTol * Y.norm()) << "alpha " << alpha;
  }
}

TEST(SmoothQuant, SearchPicksTheGridMinimum) {
  const test::LayerProblem p = test::layer_problem();
  const auto f = methods::parse_layer_format("nvfp4");
  const methods::SmoothResult r = methods::search_smoothing(p.W, p.X_calib, f);
  methods::SmoothOptions o;
  ASSERT_EQ(r.mse.size(), o.alpha_grid.size());
  ASSERT_EQ(o.alpha_grid.size(), 21u);
  const size_t best = std::min_element(r.mse.begin(), r.mse.end()) - r.mse.begin();
  EXPECT_DOUBLE_EQ(r.alpha, o.alpha_grid[best]);
  // With outlier channels, migrating some of them into the weight must help over alpha = 0 ... 
  EXPECT_LT(r.mse[best], r.mse[0]);
  // ... and the returned s is the formula's at that alpha.
  const VecF s = methods::smooth_scales(p.W, methods::column_absmax(p.X_calib), r.alpha);
  EXPECT_TRUE((s.array() == r.s.array()).all());
}

TEST(SmoothQuant, DeadChannelsGetFiniteScales) {
  test::LayerProblem p = test::layer_problem();
  p.X_calib.col(9).setZero();
  p.W.col(10).setZero();
  const VecF s = methods::smooth_scales(p.W, methods::column_absmax(p.X_calib), 0.5);
  EXPECT_TRUE(s.allFinite());
  EXPECT_GT(s.minCoeff(), 0);
}

}  // namespace
}  // namespace hessq
