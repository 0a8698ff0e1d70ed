// The column loop GPTQ shares among formats whose scales belong to fixed blocks of columns (MXFP4,
// NVFP4, ggml's block types): methods/gptq_mx.hpp, methods/gptq_ggml.hpp. Same objective, error
// feedback and lazy batch updates as methods/gptq.hpp; a format plugs in as a `Grid`.
//
// Block order (GptqOptions::block_order). GPTQ's result depends on the column order: a column absorbs
// the error feedback of every column before it, and the columns processed last carry the
// compensation the others could not place. Act-order (columns by descending diag(H)) quantizes the
// heavily used inputs first, while they still hold their original values. On a block grid a
// column-level permutation would enter a scale block several times, so the block-grid solvers permute
// whole blocks instead: blocks of kB columns by descending sum (DiagSum) or max (DiagMax) of diag(H)
// over the block, ties in natural order (a stable sort), columns inside a block in natural order.
// The loop is then GPTQ on P^T H P for the block permutation P: H is permuted in place
// (detail::permute_symmetric_in_place), W's columns copied in that order, and each block's grid is
// still chosen when the loop enters it, from its current values, so the static block grid stays
// valid and the bytes go where the block belongs. Natural order leaves everything as before.
// [choice] columns inside a block stay in natural order: ggml's and MX's grids are chosen from the
// whole block at entry anyway, so an order inside it changes only how the feedback spreads within
// 32 (or 16, 256) columns, and keeps the grids' contiguous-values interface.
// [choice] the key is the undamped diag(H) (dead inputs count 0), as act-order's.
#pragma once
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/methods/gptq.hpp"

namespace hessq::methods::detail {

// Step 3 inside H's buffer, bit-identical to cholesky_upper(spd_inverse(H)) in float: potrf gives
// R (H = R^T R), potri turns R into H^-1's upper triangle, potrf again gives U (H^-1 = U^T U). Each
// touches only the upper triangle, so R's strict upper triangle waits in the strict lower one (and
// its diagonal in a vector) and is put back once U has been copied out: on return H holds R, which
// the proxy loss needs (gptq.hpp, detail::proxy_loss_from_factor). U in float is the one extra n x n.
MatF inverse_factor_in_place(linalg::Mat& H);

// The checks every gptq_blocked solver makes before it starts, `who` naming it in messages: no
// act-order (blocks are entered in order), damp >= 0 and block >= 1, W finite, H [n, n] finite.
void check_blocked_inputs(const MatF& W0, const linalg::Mat& H0, const GptqOptions& opt, const char* who);

// The column order of gptq_blocked: q[p] = the input processed at position p, whole blocks of kB
// columns in `order` by H's (undamped) diagonal. Natural: the identity. Other orders need n to be a
// multiple of kB (throws otherwise).
std::vector<int64_t> block_column_order(const linalg::Mat& H, int64_t kB, BlockOrder order);

// GPTQ's column loop for formats whose scales belong to blocks of kB columns (steps 1-5 of
// gptq_mx.hpp), on H's own buffer (consumed). `Grid` chooses row r's grid when the loop enters block b
// (enter(r, b, values, len): the block's current, error-updated values of that row, contiguous) and
// rounds a value of column j to it (quant(r, j, w), for the columns of that block in order); b and j
// are the original block and column, whatever opt.block_order. Returns W_q and sets `proxy_loss`
// (with W0's undamped H).
template <int64_t kB, class Grid>
MatF gptq_blocked(const MatF& W0, linalg::Mat& H, const GptqOptions& opt, Grid& grid, double& proxy_loss) {
  const int64_t m = W0.rows(), n = W0.cols();
  // Steps 1-3, in processing order: position p holds input order[p].
  const std::vector<int64_t> order = block_column_order(H, kB, opt.block_order);
  const bool permuted = opt.block_order != BlockOrder::Natural;
  if (permuted) permute_symmetric_in_place(H, order);
  MatF W = W0;
  if (permuted)
    for (int64_t p = 0; p < n; ++p) W.col(p) = W0.col(order[p]);
  std::vector<int64_t> dead;  // positions
  for (int64_t p = 0; p < n; ++p)
    if (H(p, p) == 0) {
      H(p, p) = 1;
      W.col(p).setZero();
      dead.push_back(p);
    }
  const double lambda = opt.damp * H.diagonal().mean();
  H.diagonal().array() += lambda;
  const MatF U = inverse_factor_in_place(H);
  grid.begin(W);  // row statistics: the same in any column order

  // Steps 4-5.
  const int64_t block = (opt.block + kB - 1) / kB * kB;
  MatF Q = MatF::Zero(m, n);
  for (int64_t i1 = 0; i1 < n; i1 += block) {
    const int64_t i2 = std::min(i1 + block, n), count = i2 - i1;
    MatF W1 = W.middleCols(i1, count);
    MatF Err1 = MatF::Zero(m, count);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i1 + i, col = order[j];  // position, input
      if (j % kB == 0) {  // entering a block: its grid from the block's current values
        const int64_t len = std::min(i + kB, count) - i;
        for (int64_t r = 0; r < m; ++r) grid.enter(r, col / kB, &W1(r, i), len);
      }
      const float d = U(j, j);
      for (int64_t r = 0; r < m; ++r) {
        const float w = W1(r, i);
        const float q = grid.quant(r, col, w);
        Q(r, col) = q;
        Err1(r, i) = (w - q) / d;
      }
      if (i + 1 < count)
        W1.rightCols(count - i - 1).noalias() -= Err1.col(i) * U.row(j).segment(j + 1, count - i - 1);
    }
    if (i2 < n) W.rightCols(n - i2).noalias() -= Err1 * U.block(i1, i2, count, n - i2);
  }
  proxy_loss = detail::proxy_loss_from_factor(W0, Q, H, order, lambda, dead);  // H holds R (processing order)
  return Q;
}

}  // namespace hessq::methods::detail
