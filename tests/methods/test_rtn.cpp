// RTN and the shared solver helpers: W_q is the format's fake_quant, the proxy loss equals the
// output error computed from the tokens, and bad inputs are named.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "hessq/core/error.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/rtn.hpp"
#include "problems.hpp"

namespace hessq::methods {
namespace {

using formats::parse_spec;
using test::make_problem;

// Double-precision traces of O(1e4) terms vs the token-level oracle: round-off ~1e-14 relative.
constexpr double kLossRelTol = 1e-9;

TEST(Rtn, EqualsFakeQuantForEveryFormat) {
  const auto P = make_problem();
  for (const char* name : {"int4", "int3-asym-g32", "int8-tok", "fp8-e4m3", "fp4-g32", "nvfp4", "mxfp4", "int4-clip"}) {
    const auto spec = parse_spec(name);
    MatF ref(P.W.rows(), P.W.cols());
    formats::fake_quant(spec, P.W.data(), P.W.rows(), P.W.cols(), ref.data());
    const QuantizedWeight q = solve_rtn(P.W, spec);
    EXPECT_TRUE(q.W_q == ref) << name;
    EXPECT_TRUE(q.int_params.empty());
    EXPECT_EQ(q.proxy_loss, 0.0);
    EXPECT_EQ(q.spec, spec);
  }
}

TEST(Rtn, ProxyLossIsTheOutputError) {
  const auto P = make_problem();
  for (const char* name : {"int4", "int2-g32", "nvfp4"}) {
    const QuantizedWeight q = solve_rtn(P.W, parse_spec(name), &P.H);
    const double oracle = test::output_error(P.X, P.W, q.W_q);
    EXPECT_GT(oracle, 0);
    EXPECT_NEAR(q.proxy_loss, oracle, kLossRelTol * oracle) << name;
  }
}

TEST(Rtn, QuadraticTraceMatchesNaiveSum) {
  const auto P = make_problem();
  double naive = 0;  // sum_r sum_jk W_rj H_jk W_rk
  for (int64_t r = 0; r < P.W.rows(); ++r)
    for (int64_t j = 0; j < P.W.cols(); ++j)
      for (int64_t k = 0; k < P.W.cols(); ++k) naive += double(P.W(r, j)) * P.H(j, k) * double(P.W(r, k));
  EXPECT_NEAR(quadratic_trace(P.W, P.H), naive, kLossRelTol * naive);
}

TEST(Rtn, BadInputNamesTheProblem) {
  const auto P = make_problem();
  MatF bad = P.W;
  bad(0, 4) = INFINITY;
  test::expect_error([&] { solve_rtn(bad, parse_spec("int4")); },
                     "rtn: W [64, 128] has a non-finite value (inf) at [0, 4]");
  const linalg::Mat H = linalg::Mat::Identity(100, 128);
  test::expect_error([&] { solve_rtn(P.W, parse_spec("int4"), &H); }, "rtn: H is [100, 128], expected [128, 128]");
  EXPECT_THROW(solve_rtn(MatF(0, 0), parse_spec("int4")), Error);
}

}  // namespace
}  // namespace hessq::methods
