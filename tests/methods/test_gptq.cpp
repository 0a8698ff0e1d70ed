// GPTQ against independent oracles on seeded small layers (m = 64, n = 128): the proxy loss against
// the output error computed from the tokens, RTN as the H = I special case, the plain (block = 1)
// loop as the reference for the blocked one, the INT grid via pack_int/unpack, and bad inputs.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>
#include <string>

#include "hessq/core/error.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/rtn.hpp"
#include "problems.hpp"

extern "C" int openblas_get_num_threads(void);
extern "C" void openblas_set_num_threads(int);

namespace hessq::methods {
namespace {

using formats::parse_spec;
using test::make_problem;
using test::ProblemShape;
using test::expect_error;
using test::output_error;

// proxy_loss (a double GEMM on H) vs ||X dW^T||^2 / N from the tokens: both exact up to double
// round-off on O(1e3) terms; 1e-9 relative is far above that and far below any real discrepancy.
constexpr double kLossRelTol = 1e-9;

const char* const kSpecs[] = {"int4", "int4-asym", "int3-g32", "int3-asym-g32", "int2-g32", "int2-asym-g32"};

// Every value of W_q decodes from its group's params (the grid the packed codes will describe).
void expect_on_grid(const QuantizedWeight& q) {
  const int64_t m = q.W_q.rows(), n = q.W_q.cols();
  const IntLayout L = int_layout(q.spec, n, "test");
  ASSERT_EQ(static_cast<int64_t>(q.int_params.size()), m * L.groups);
  int64_t off = 0;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) {
      const auto& p = q.int_params[r * L.groups + c / L.g];
      off += formats::int_quant_dequant(q.W_q(r, c), p, q.spec.bits, q.spec.symmetric) != q.W_q(r, c);
    }
  EXPECT_EQ(off, 0) << q.spec.name() << ": values off their group's grid";
}

TEST(Gptq, LayerErrorBelowRtn) {
  const auto P = make_problem();
  for (const char* name : kSpecs) {
    const auto spec = parse_spec(name);
    const QuantizedWeight g = solve_gptq(P.W, P.H, spec, {});
    const QuantizedWeight r = solve_rtn(P.W, spec, &P.H);
    EXPECT_NEAR(g.proxy_loss, output_error(P.X, P.W, g.W_q), kLossRelTol * g.proxy_loss) << name;
    EXPECT_NEAR(r.proxy_loss, output_error(P.X, P.W, r.W_q), kLossRelTol * r.proxy_loss) << name;
    EXPECT_LT(g.proxy_loss, r.proxy_loss) << name;
    RecordProperty(std::string("loss_ratio_") + name, std::to_string(g.proxy_loss / r.proxy_loss));
    expect_on_grid(g);
  }
}

// Algorithm 1 of the paper without the Cholesky reformulation, in double: columns in order, each
// error spread with the current H^-1 row, then column c eliminated from H^-1 (Schur complement).
// Group params from the original W (static groups) or from the current row values when the loop
// enters a group (dynamic).
MatF naive_gptq(const MatF& W, const linalg::Mat& H, const formats::QuantSpec& spec, double damp, bool static_groups) {
  const int64_t m = W.rows(), n = W.cols();
  const IntLayout L = int_layout(spec, n, "test");
  linalg::Mat Hd = H;
  Hd.diagonal().array() += damp * H.diagonal().mean();
  linalg::Mat Hinv = Hd.llt().solve(linalg::Mat::Identity(n, n));
  linalg::Mat Wd = W.cast<double>();
  MatF Q(m, n);
  std::vector<formats::IntParams> P(m);
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t r = 0; r < m; ++r) {
      if (c % L.g == 0) {
        const MatF cur = Wd.row(r).cast<float>();
        P[r] = formats::group_params(spec, static_groups ? &W(r, c) : &cur(0, c), L.g);
      }
      const auto& p = P[r];
      const float q = formats::int_quant_dequant(static_cast<float>(Wd(r, c)), p, spec.bits, spec.symmetric);
      Q(r, c) = q;
      const double err = (Wd(r, c) - q) / Hinv(c, c);
      for (int64_t j = c + 1; j < n; ++j) Wd(r, j) -= err * Hinv(c, j);
    }
    const linalg::Vec h = Hinv.col(c);
    Hinv -= h * h.transpose() / h[c];
  }
  return Q;
}

// Float updates vs the double reference may move a value across a rounding boundary; on these
// problems none does (0 of 8192 measured). Allow 0.1% so a different BLAS cannot break the test,
// which still catches any real error (those change most codes).
constexpr double kMaxCodeMismatch = 1e-3;

TEST(Gptq, MatchesNaiveDoubleReference) {
  const auto P = make_problem();
  for (const char* name : {"int4", "int4-asym", "int3-asym-g32", "int2-g32"})
    for (bool static_groups : {true, false}) {
      const auto spec = parse_spec(name);
      const MatF ref = naive_gptq(P.W, P.H, spec, 0.01, static_groups);
      GptqOptions opt;
      opt.static_groups = static_groups;
      const QuantizedWeight g = solve_gptq(P.W, P.H, spec, opt);
      const int64_t differ = (g.W_q.array() != ref.array()).count();
      EXPECT_LE(differ, kMaxCodeMismatch * ref.size()) << name << " static " << static_groups;
      const double ref_loss = output_error(P.X, P.W, ref);
      EXPECT_NEAR(g.proxy_loss, ref_loss, (differ ? 1e-2 : kLossRelTol) * ref_loss) << name;
      RecordProperty(std::string("naive_mismatch_") + name + (static_groups ? "_static" : "_dynamic"), differ);
    }
}

// With H = I (damped: (1 + damp) I) U is diagonal, every error feedback term is err * 0 = 0, so W is
// never changed and each value is rounded with RTN's params: bit-for-bit equal.
TEST(Gptq, IdentityHessianEqualsRtn) {
  const auto P = make_problem();
  const linalg::Mat I = linalg::Mat::Identity(P.W.cols(), P.W.cols());
  for (const char* name :
       {"int4", "int4-asym", "int3-g32", "int3-asym-g32", "int2-g32", "int4-tensor", "int4-g32-clip"}) {
    const auto spec = parse_spec(name);
    const MatF rtn = solve_rtn(P.W, spec).W_q;
    for (bool static_groups : {true, false})
      for (bool act_order : {false, true}) {
        if (act_order && !static_groups && spec.granularity == formats::Granularity::PerGroup) continue;
        GptqOptions opt;
        opt.static_groups = static_groups;
        opt.act_order = act_order;
        const QuantizedWeight g = solve_gptq(P.W, I, spec, opt);
        EXPECT_TRUE(g.W_q == rtn) << name << " static " << static_groups << " act_order " << act_order;
      }
  }
}

// Lazy batch updates only reorder the same sums, so the codes match except where a reassociated sum
// moves a value across a rounding boundary: that code flips and GPTQ's error feedback carries the
// difference into the row's later columns, so a few codes of that row may follow. Whether it happens
// depends on the compiler and kernels (none with gcc -O3; 14 of 8192 codes and 3e-5 relative loss with
// clang -O2 under sanitizers), so the bounds are: at most 1% of the codes, loss within 1e-3 relative
// (the loss is a sum over all codes; a few flipped codes move it by ~1e-5).
constexpr double kBlockFlipFraction = 0.01, kBlockLossRelTol = 1e-3;
TEST(Gptq, BlockSizeDoesNotChangeCodes) {
  const auto P = make_problem();
  for (const char* name : {"int4", "int3-g32", "int2-asym-g32"})
    for (bool static_groups : {true, false})
      for (bool act_order : {false, true}) {
        const auto spec = parse_spec(name);
        if (act_order && !static_groups && spec.granularity == formats::Granularity::PerGroup) continue;
        GptqOptions opt;
        opt.static_groups = static_groups;
        opt.act_order = act_order;
        opt.block = 1;
        const QuantizedWeight plain = solve_gptq(P.W, P.H, spec, opt);
        for (int block : {7, 32, 128}) {
          opt.block = block;
          const QuantizedWeight fast = solve_gptq(P.W, P.H, spec, opt);
          EXPECT_LE((fast.W_q.array() != plain.W_q.array()).count(), kBlockFlipFraction * plain.W_q.size())
              << name << " block " << block << " static " << static_groups << " act_order " << act_order;
          EXPECT_NEAR(fast.proxy_loss, plain.proxy_loss, kBlockLossRelTol * plain.proxy_loss);
        }
      }
}

TEST(Gptq, ActOrderWithStaticGroups) {
  const auto P = make_problem();
  GptqOptions opt;
  opt.act_order = true;
  for (const char* name : kSpecs) {
    const auto spec = parse_spec(name);
    const QuantizedWeight g = solve_gptq(P.W, P.H, spec, opt);
    expect_on_grid(g);
    EXPECT_LE(g.proxy_loss, solve_rtn(P.W, spec, &P.H).proxy_loss) << name;
    // Static groups: the params are RTN's, from the original W in natural group order.
    const IntLayout L = int_layout(spec, P.W.cols(), "test");
    for (int64_t r = 0; r < P.W.rows(); ++r)
      for (int64_t k = 0; k < L.groups; ++k) {
        const auto p = formats::group_params(spec, &P.W(r, k * L.g), L.g);
        EXPECT_EQ(g.int_params[r * L.groups + k].scale, p.scale);
        EXPECT_EQ(g.int_params[r * L.groups + k].zero, p.zero);
      }
  }
}

TEST(Gptq, ActOrderWithDynamicGroupsIsRefused) {
  const auto P = make_problem();
  GptqOptions opt;
  opt.act_order = true;
  opt.static_groups = false;
  EXPECT_THROW(solve_gptq(P.W, P.H, parse_spec("int4-g32"), opt), Error);
  EXPECT_NO_THROW(solve_gptq(P.W, P.H, parse_spec("int4"), opt));  // one group: nothing to index
}

TEST(Gptq, DeadInputsGiveZeroColumns) {
  auto P = make_problem();
  const int64_t dead[] = {0, 5, 77};
  for (int64_t j : dead) P.X.col(j).setZero();
  P.H = test::hessian_of(P.X);
  for (const char* name : kSpecs)
    for (bool act_order : {false, true}) {
      GptqOptions opt;
      opt.act_order = act_order;
      const QuantizedWeight g = solve_gptq(P.W, P.H, parse_spec(name), opt);
      EXPECT_TRUE(g.W_q.allFinite()) << name;
      EXPECT_TRUE(std::isfinite(g.proxy_loss)) << name;
      for (int64_t j : dead) EXPECT_TRUE((g.W_q.col(j).array() == 0.0f).all()) << name << " column " << j;
      EXPECT_NEAR(g.proxy_loss, output_error(P.X, P.W, g.W_q), kLossRelTol * g.proxy_loss) << name;
    }
}

TEST(Gptq, PackIntRoundTripsBitwise) {
  const auto P = make_problem();
  for (const char* name : {"int4", "int4-asym", "int3-g32", "int2-asym-g32", "int8-g64", "int4-tensor", "int5-asym"})
    for (bool act_order : {false, true}) {
      const auto spec = parse_spec(name);
      GptqOptions opt;
      opt.act_order = act_order;
      const QuantizedWeight g = solve_gptq(P.W, P.H, spec, opt);
      const formats::Packed pk = formats::pack_int(spec, g.W_q.data(), g.W_q.rows(), g.W_q.cols(), g.int_params);
      MatF back(g.W_q.rows(), g.W_q.cols());
      formats::unpack(spec, pk, back.rows(), back.cols(), back.data());
      EXPECT_TRUE(back == g.W_q) << name;
    }
}

// Rows run in parallel but each row is sequential, the GEMMs split rows into fixed chunks and
// LAPACK runs serially (kernels/gemm_f32.hpp): the bytes must not depend on the OpenMP thread count
// nor on the caller's OpenBLAS thread count. n = 1024 is wide enough that OpenBLAS's threaded potrf
// would take its parallel algorithm (measured: 1 vs 2 threads differ in most entries of the factor).
TEST(Gptq, DeterministicAcrossThreadCounts) {
  ProblemShape shape;
  shape.m = 96, shape.n = 1024, shape.rank = 768, shape.tokens = 1536;
  const auto P = make_problem(shape);
  const int saved = omp_get_max_threads(), saved_blas = openblas_get_num_threads();
  omp_set_num_threads(1);
  openblas_set_num_threads(1);
  const QuantizedWeight a = solve_gptq(P.W, P.H, parse_spec("int3-g32"), {});
  omp_set_num_threads(3);
  openblas_set_num_threads(2);
  const QuantizedWeight b = solve_gptq(P.W, P.H, parse_spec("int3-g32"), {});
  omp_set_num_threads(saved);
  openblas_set_num_threads(saved_blas);
  EXPECT_TRUE(a.W_q == b.W_q);
  EXPECT_EQ(a.proxy_loss, b.proxy_loss);
}

TEST(Gptq, BadInputNamesTheProblem) {
  const auto P = make_problem();
  const auto int4 = parse_spec("int4");
  expect_error([&] { solve_gptq(P.W, P.H.topLeftCorner(64, 64), int4, {}); }, "H is [64, 64], expected [128, 128]");
  formats::QuantSpec nine = int4;
  nine.bits = 9;
  expect_error([&] { solve_gptq(P.W, P.H, nine, {}); }, "9 bits, expected 2..8");
  formats::QuantSpec one = int4;
  one.bits = 1;
  expect_error([&] { solve_gptq(P.W, P.H, one, {}); }, "1 bits, expected 2..8");
  expect_error([&] { solve_gptq(P.W, P.H, parse_spec("nvfp4"), {}); }, "spec 'nvfp4' is not an INT format");
  expect_error([&] { solve_gptq(P.W, P.H, parse_spec("fp4-g32"), {}); }, "not an INT format");
  expect_error([&] { solve_gptq(P.W, P.H, parse_spec("int4-g96"), {}); }, "not a whole number of groups of 96");
  MatF bad = P.W;
  bad(3, 17) = std::nanf("");
  expect_error([&] { solve_gptq(bad, P.H, int4, {}); }, "non-finite value (nan) at [3, 17]");
  linalg::Mat Hnan = P.H;
  Hnan(2, 2) = NAN;
  expect_error([&] { solve_gptq(P.W, Hnan, int4, {}); }, "H [128, 128] has NaN or Inf");
  GptqOptions opt;
  opt.block = 0;
  expect_error([&] { solve_gptq(P.W, P.H, int4, opt); }, "block = 0");
  opt = {};
  opt.damp = -1;
  expect_error([&] { solve_gptq(P.W, P.H, int4, opt); }, "damp = -1");
  // An indefinite H without damping fails the Cholesky factorization; the message names the damping.
  linalg::Mat Hind = linalg::Mat::Identity(128, 128);
  Hind(0, 1) = Hind(1, 0) = 2;
  opt = {};
  opt.damp = 0;
  expect_error([&] { solve_gptq(P.W, Hind, int4, opt); }, "damp 0");
}

}  // namespace
}  // namespace hessq::methods
