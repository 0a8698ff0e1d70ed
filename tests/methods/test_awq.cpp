// AWQ on seeded layers whose inputs have a few large channels (the salient channels AWQ protects):
// the search loss against the output error computed from the tokens, no worse than identity
// scaling, folding keeps the float output, and clip search on the exact per-row objective.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "hessq/calib/stats.hpp"
#include "hessq/core/error.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/awq.hpp"
#include "hessq/methods/rtn.hpp"
#include "problems.hpp"

namespace hessq::methods {
namespace {

using formats::parse_spec;
using test::make_problem;

calib::Stats stats_of(const linalg::Mat& X) {
  calib::Stats st(X.cols());
  const MatF Xf = X.cast<float>();
  st.add(Xf.data(), Xf.rows(), Xf.cols());
  return st;
}

// Q_w(W diag s) (X / s)^T vs X W^T straight from the tokens, in double.
double scaled_output_error(const linalg::Mat& X, const MatF& W, const linalg::Vec& s, const formats::QuantSpec& spec) {
  const MatF Ws = apply_awq(W, s);
  MatF Wq(W.rows(), W.cols());
  formats::fake_quant(spec, Ws.data(), Ws.rows(), Ws.cols(), Wq.data());
  const linalg::Mat Xs = X * s.cwiseInverse().asDiagonal();
  const linalg::Mat E = Xs * Wq.cast<double>().transpose() - X * W.cast<double>().transpose();
  return E.squaredNorm() / static_cast<double>(X.rows());
}

// The grid losses use a float GEMM for dW H (double accumulation): ~1e-6 relative round-off on
// these sizes; 1e-4 leaves margin and is far below the gaps between grid points (~1e-2 relative).
constexpr double kSearchLossRelTol = 1e-4;

TEST(Awq, SearchLossesAreTheOutputError) {
  const auto P = make_problem();
  // Two linears sharing the input (as q/k/v): the loss is their sum.
  MatF W2 = P.W.colwise().reverse();
  const calib::Stats st = stats_of(P.X);
  const auto spec = parse_spec("int3-g32");
  AwqOptions opt;
  opt.grid = 10;
  const AwqResult r = awq_search({&P.W, &W2}, st, {spec}, opt);
  ASSERT_EQ(r.losses.size(), 10u);
  const linalg::Vec absmean = st.absmean();
  for (int k = 0; k < opt.grid; ++k) {
    const linalg::Vec s = awq_scales(absmean, k / 10.0);
    const double oracle = scaled_output_error(P.X, P.W, s, spec) + scaled_output_error(P.X, W2, s, spec);
    EXPECT_NEAR(r.losses[k], oracle, kSearchLossRelTol * oracle) << "alpha " << k / 10.0;
  }
}

TEST(Awq, NoWorseThanIdentityScaling) {
  const auto P = make_problem();
  const calib::Stats st = stats_of(P.X);
  for (const char* name : {"int4", "int4-asym", "int3-g32", "int2-asym-g32"}) {
    const auto spec = parse_spec(name);
    const AwqResult r = awq_search({&P.W}, st, {spec});
    EXPECT_LE(r.loss, r.loss_identity) << name;
    EXPECT_EQ(r.loss_identity, r.losses[0]);
    // Identity scaling is plain RTN; the chosen scaling measured from the tokens beats it.
    const double rtn = test::output_error(P.X, P.W, solve_rtn(P.W, spec).W_q);
    EXPECT_NEAR(r.loss_identity, rtn, kSearchLossRelTol * rtn) << name;
    EXPECT_LE(scaled_output_error(P.X, P.W, r.s, spec), rtn) << name;
    // With 4 input channels 10x larger than the rest, scaling them up must help (alpha > 0).
    EXPECT_GT(r.alpha, 0) << name;
    RecordProperty(std::string("alpha_") + name, std::to_string(r.alpha));
    RecordProperty(std::string("loss_ratio_") + name, std::to_string(r.loss / r.loss_identity));
  }
}

TEST(Awq, ScalesAreNormalized) {
  const auto P = make_problem();
  const linalg::Vec absmean = stats_of(P.X).absmean();
  EXPECT_TRUE(awq_scales(absmean, 0.0) == linalg::Vec::Ones(absmean.size()));
  for (double alpha : {0.3, 0.95}) {
    const linalg::Vec s = awq_scales(absmean, alpha);
    EXPECT_NEAR(s.maxCoeff() * s.minCoeff(), 1.0, 1e-12);  // sqrt(max min) normalization
    // Ordering follows absmean (s is a monotone function of it).
    for (int64_t j = 1; j < s.size(); ++j) EXPECT_EQ(s[j] < s[0], absmean[j] < absmean[0]);
  }
  // A dead channel (absmean 0) is floored, not sent to 0 or Inf.
  linalg::Vec a = absmean;
  a[7] = 0;
  const linalg::Vec s = awq_scales(a, 0.5);
  EXPECT_TRUE(s.allFinite());
  EXPECT_GT(s.minCoeff(), 0);
}

// Folding 1/s into the producer and s into W keeps the float output: (X / s)(W diag s)^T = X W^T.
// Two float roundings per product term (X / s and W s) at 2^-24 each: 1e-5 relative is the bar.
constexpr double kFoldRelTol = 1e-5;

TEST(Awq, FoldingKeepsTheFloatOutput) {
  const auto P = make_problem();
  const AwqResult r = awq_search({&P.W}, stats_of(P.X), {parse_spec("int4")});
  const MatF Xf = P.X_held.cast<float>();
  const MatF Xs = (Xf.array().rowwise() * r.s.cwiseInverse().cast<float>().transpose().array()).matrix();
  const MatF Y = Xf * P.W.transpose();
  const MatF Ys = Xs * apply_awq(P.W, r.s).transpose();
  EXPECT_LE((Ys - Y).norm(), kFoldRelTol * Y.norm());
}

TEST(Awq, SolveAwqLossIsTheFoldedOutputError) {
  const auto P = make_problem();
  const auto spec = parse_spec("int3-g32");
  const AwqResult r = awq_search({&P.W}, stats_of(P.X), {spec});
  const QuantizedWeight q = solve_awq(P.W, P.H, r.s, spec);
  // W_q is in the scaled space: the folded model computes (X / s) W_q^T.
  const linalg::Mat Xs = P.X * r.s.cwiseInverse().asDiagonal();
  const double oracle =
      (Xs * q.W_q.cast<double>().transpose() - P.X * P.W.cast<double>().transpose()).squaredNorm() / P.X.rows();
  // proxy_loss measures against the float W diag(s) (rounded at 2^-24 per entry), the oracle against
  // the exact X W^T: 1e-6 relative covers that rounding.
  EXPECT_NEAR(q.proxy_loss, oracle, 1e-6 * oracle);
  EXPECT_NEAR(q.proxy_loss, r.loss, kSearchLossRelTol * r.loss);
}

TEST(Awq, ClipSearchOnGrid) {
  const auto P = make_problem();
  const calib::Stats st = stats_of(P.X);
  for (const char* name : {"int4", "int3-asym", "int3-g32", "int2-asym-g32"}) {
    const auto spec = parse_spec(name);
    const AwqResult r = awq_search({&P.W}, st, {spec});
    AwqOptions opt;
    const QuantizedWeight plain = solve_awq(P.W, P.H, r.s, spec, opt);
    opt.clip_search = true;
    const QuantizedWeight clip = solve_awq(P.W, P.H, r.s, spec, opt);
    // On the params' grid: pack_int accepts it and unpack returns it bitwise.
    const auto pk = formats::pack_int(spec, clip.W_q.data(), clip.W_q.rows(), clip.W_q.cols(), clip.int_params);
    MatF back(clip.W_q.rows(), clip.W_q.cols());
    formats::unpack(spec, pk, back.rows(), back.cols(), back.data());
    EXPECT_TRUE(back == clip.W_q) << name;
    // Per channel the per-row objective is the whole loss and ratio 1 is RTN: never worse.
    if (spec.granularity == formats::Granularity::PerChannel) {
      EXPECT_LE(clip.proxy_loss, plain.proxy_loss) << name;
    }
    RecordProperty(std::string("clip_gain_") + name, std::to_string(clip.proxy_loss / plain.proxy_loss));
  }
}

TEST(Awq, BadInputNamesTheProblem) {
  const auto P = make_problem();
  const calib::Stats st = stats_of(P.X);
  const auto int4 = parse_spec("int4");
  test::expect_error([&] { awq_search({}, st, {int4}); }, "no linears");
  const MatF narrow = P.W.leftCols(64);
  test::expect_error([&] { awq_search({&P.W, &narrow}, st, {int4}); }, "linear 1 of the input set has 64 inputs");
  linalg::Vec s = linalg::Vec::Ones(128);
  s[9] = -1;
  test::expect_error([&] { apply_awq(P.W, s); }, "s[9] = -1");
  test::expect_error([&] { apply_awq(P.W, linalg::Vec::Ones(3)); }, "3 scales for 128 input channels");
  AwqOptions opt;
  opt.clip_search = true;
  test::expect_error([&] { solve_awq(P.W, P.H, linalg::Vec::Ones(128), parse_spec("nvfp4"), opt); },
                     "spec 'nvfp4' is not an INT format");
}

}  // namespace
}  // namespace hessq::methods
