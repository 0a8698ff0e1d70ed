// GptqOptions::block_order on the block-grid solvers (methods/gptq_blocked.hpp "Block order"):
//   - the order itself (detail::block_column_order): whole blocks by descending sum / max of diag(H),
//     stable, natural inside a block;
//   - a permutation property: GPTQ with a block order on (W, H) is natural-order GPTQ on the problem
//     whose blocks are permuted, (W P, P^T H P), with the result permuted back: the same operations
//     on the same values in the same order, so the results are equal exactly;
//   - with H already in that order (block keys descending) the result is plain GPTQ's, bytes included;
//   - on a hand-made H where one input of the last block is hot on a few tokens (the attention-sink
//     pattern), entering that block first gives a lower proxy loss than natural order;
//   - identical results at any thread count; INT GPTQ refuses block_order.
#include <gtest/gtest.h>

#include "gptq_inputs.hpp"

#include <omp.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_blocks.hpp"
#include "hessq/methods/ggml_solvers.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/gptq_blocked.hpp"
#include "hessq/methods/gptq_mx.hpp"

namespace hessq::methods {
namespace {

using test::correlated_hessian;
using test::seeded;

// H of inputs with correlated channels where, on one token in `every`, input `hot` carries a value
// `amp` times the typical one (a few tokens dominate that input, as the first token of a window
// does on SmolLM2's channel 507).
linalg::Mat sink_hessian(int64_t n, int64_t N, int64_t every, int64_t hot, float amp, uint64_t seed) {
  const MatF Z = seeded(N, 8, seed), P = seeded(8, n, seed + 1), E = seeded(N, n, seed + 2);
  MatF X = Z * P + E * 0.3f;
  for (int64_t t = 0; t < N; t += every) {
    X.row(t) *= 0.2f;
    X(t, hot) = amp;
  }
  return (X.cast<double>().transpose() * X.cast<double>()) / static_cast<double>(N);
}

// Columns (and H's rows and columns) gathered in the order q: W P and P^T H P.
MatF gather_cols(const MatF& W, const std::vector<int64_t>& q) {
  MatF out(W.rows(), W.cols());
  for (int64_t p = 0; p < W.cols(); ++p) out.col(p) = W.col(q[p]);
  return out;
}
linalg::Mat gather_sym(const linalg::Mat& H, const std::vector<int64_t>& q) {
  const int64_t n = H.rows();
  linalg::Mat out(n, n);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) out(a, b) = H(q[a], q[b]);
  return out;
}

TEST(GptqBlockOrder, OrdersWholeBlocksByTheirDiagonal) {
  // 4 blocks of 2: diag = [1 1 | 0 5 | 3 3 | 2 2]; sums 2, 5, 6, 4; maxes 1, 5, 3, 2.
  linalg::Mat H = linalg::Mat::Zero(8, 8);
  const double d[8] = {1, 1, 0, 5, 3, 3, 2, 2};
  for (int j = 0; j < 8; ++j) H(j, j) = d[j];
  using V = std::vector<int64_t>;
  EXPECT_EQ(detail::block_column_order(H, 2, BlockOrder::Natural), (V{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(detail::block_column_order(H, 2, BlockOrder::DiagSum), (V{4, 5, 2, 3, 6, 7, 0, 1}));
  EXPECT_EQ(detail::block_column_order(H, 2, BlockOrder::DiagMax), (V{2, 3, 4, 5, 6, 7, 0, 1}));
  H(3, 3) = 3;  // sums 2, 3, 6, 4; block 1 and 2 tie on max 3: the earlier block first (stable)
  EXPECT_EQ(detail::block_column_order(H, 2, BlockOrder::DiagMax), (V{2, 3, 4, 5, 6, 7, 0, 1}));
  EXPECT_THROW(detail::block_column_order(linalg::Mat::Identity(7, 7), 2, BlockOrder::DiagSum), Error);
}

TEST(GptqBlockOrder, IsNaturalOrderGptqOnThePermutedProblem) {
  const int64_t m = 16, n = 256;
  const MatF W = seeded(m, n, 11);
  const linalg::Mat H = sink_hessian(n, 512, 64, 250, 40.0f, 21);
  struct Case {
    const char* spec;
    int64_t kB;
  };
  for (const Case c : {Case{"q4_0", 32}, Case{"q4_k", 256}, Case{"mxfp4", 32}, Case{"nvfp4", 16}}) {
    for (BlockOrder order : {BlockOrder::DiagSum, BlockOrder::DiagMax}) {
      const formats::QuantSpec spec = formats::parse_spec(c.spec);
      const auto solve = [&](const MatF& Wx, const linalg::Mat& Hx, const GptqOptions& o) {
        if (spec.format == formats::Format::Ggml) return solve_gptq_ggml(Wx, Hx, spec, o);
        if (spec.format == formats::Format::MxFp4) return solve_gptq_mx(Wx, Hx, spec, o);
        return solve_gptq_nvfp4(Wx, Hx, spec, o);
      };
      const std::vector<int64_t> q = detail::block_column_order(H, c.kB, order);
      GptqOptions opt;
      opt.block_order = order;
      const QuantizedWeight a = solve(W, H, opt);
      const QuantizedWeight b = solve(gather_cols(W, q), gather_sym(H, q), GptqOptions{});
      // Same arithmetic on the same values (the in-place permutation only moves entries), so exact.
      EXPECT_EQ(gather_cols(a.W_q, q), b.W_q) << c.spec;
      // The proxy losses are sums in different orders (permuted factor): equal to rounding.
      EXPECT_NEAR(a.proxy_loss, b.proxy_loss, 1e-9 * b.proxy_loss) << c.spec;
    }
  }
}

TEST(GptqBlockOrder, AlreadyOrderedHessianGivesPlainGptq) {
  const int64_t m = 8, n = 128;
  const MatF W = seeded(m, n, 4);
  linalg::Mat H = correlated_hessian(n, 512, 7);
  // Scale input j by (4 - j / 32): blocks' diagonal sums and maxes now descend in natural order.
  for (int64_t j = 0; j < n; ++j) {
    const double s = 4.0 - static_cast<double>(j / 32);
    H.row(j) *= s;
    H.col(j) *= s;
  }
  ASSERT_EQ(detail::block_column_order(H, 32, BlockOrder::DiagSum), detail::block_column_order(H, 32, BlockOrder::Natural));
  ASSERT_EQ(detail::block_column_order(H, 32, BlockOrder::DiagMax), detail::block_column_order(H, 32, BlockOrder::Natural));
  const formats::QuantSpec spec = formats::parse_spec("q4_0");
  const QuantizedWeight plain = solve_gptq_ggml(W, H, spec);
  for (BlockOrder order : {BlockOrder::DiagSum, BlockOrder::DiagMax}) {
    GptqOptions opt;
    opt.block_order = order;
    const QuantizedWeight o = solve_gptq_ggml(W, H, spec, opt);
    EXPECT_EQ(o.W_q, plain.W_q);
    EXPECT_EQ(o.packed->codes, plain.packed->codes);
    EXPECT_EQ(o.proxy_loss, plain.proxy_loss);  // identity permutation: the same computation
  }
}

TEST(GptqBlockOrder, HotInputsBlockFirstLowersTheProxyLoss) {
  // Input 250 (last block of 32) hot on one token in 64. Natural order reaches its block last, after
  // every other column's compensation has landed on it; the max order enters it first. Summed over
  // seeds so the check is about the method, not one draw.
  const int64_t m = 32, n = 256;
  const formats::QuantSpec spec = formats::parse_spec("q4_0");
  double natural = 0, hot_first = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const MatF W = seeded(m, n, 100 + seed);
    const linalg::Mat H = sink_hessian(n, 512, 64, 250, 40.0f, 200 + 3 * seed);
    ASSERT_EQ(detail::block_column_order(H, 32, BlockOrder::DiagMax)[0], 224);
    GptqOptions opt;
    natural += solve_gptq_ggml(W, H, spec, opt).proxy_loss;
    opt.block_order = BlockOrder::DiagMax;
    hot_first += solve_gptq_ggml(W, H, spec, opt).proxy_loss;
  }
  EXPECT_LT(hot_first, natural);  // measured: hot_first / natural = 0.95
}

TEST(GptqBlockOrder, SameResultAtAnyThreadCountAndIntRefuses) {
  const MatF W = seeded(24, 256, 8);
  const linalg::Mat H = sink_hessian(256, 512, 64, 250, 40.0f, 31);
  GptqOptions opt;
  opt.block_order = BlockOrder::DiagSum;
  const formats::QuantSpec spec = formats::parse_spec("q4_0");
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const QuantizedWeight one = solve_gptq_ggml(W, H, spec, opt);
  omp_set_num_threads(3);
  const QuantizedWeight three = solve_gptq_ggml(W, H, spec, opt);
  omp_set_num_threads(saved);
  EXPECT_EQ(one.W_q, three.W_q);
  EXPECT_EQ(one.packed->codes, three.packed->codes);
  EXPECT_THROW(solve_gptq(W, H, formats::parse_spec("int4-g32"), opt), Error);
}

}  // namespace
}  // namespace hessq::methods
