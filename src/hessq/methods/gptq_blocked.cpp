#include "hessq/methods/gptq_blocked.hpp"

#include <algorithm>
#include <numeric>

#include "hessq/core/error.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods::detail {

MatF inverse_factor_in_place(linalg::Mat& H) {
  const int64_t n = H.rows();
  linalg::cholesky_upper_in_place(H);
  const linalg::Vec r_diag = H.diagonal();
  linalg::symmetrize_from_upper(H);  // strict lower := R^T
  linalg::cholesky_inverse_in_place(H);
  linalg::cholesky_upper_in_place(H);
  MatF U = MatF::Zero(n, n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) U(i, j) = static_cast<float>(H(i, j));
  linalg::symmetrize_from_lower(H);  // upper := R, strict
  H.diagonal() = r_diag;
  return U;
}

void check_blocked_inputs(const MatF& W0, const linalg::Mat& H0, const GptqOptions& opt, const char* who) {
  HESSQ_CHECK(!opt.act_order, "{}: act_order is not supported (scale blocks must be entered in order)", who);
  HESSQ_CHECK(opt.damp >= 0 && opt.block >= 1, "{}: damp {} / block {} out of range", who, opt.damp, opt.block);
  check_weight(W0, who);
  check_hessian(H0, W0.cols(), who);
}

std::vector<int64_t> block_column_order(const linalg::Mat& H, int64_t kB, BlockOrder order) {
  const int64_t n = H.rows();
  std::vector<int64_t> q(n);
  std::iota(q.begin(), q.end(), 0);
  if (order == BlockOrder::Natural) return q;
  HESSQ_CHECK(kB > 0 && n % kB == 0, "gptq: block_order needs whole scale blocks: {} inputs, blocks of {}", n, kB);
  const int64_t nb = n / kB;
  std::vector<double> key(nb, 0.0);
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t j = b * kB; j < (b + 1) * kB; ++j)
      key[b] = order == BlockOrder::DiagSum ? key[b] + H(j, j) : std::max(key[b], H(j, j));
  std::vector<int64_t> blocks(nb);
  std::iota(blocks.begin(), blocks.end(), 0);
  std::stable_sort(blocks.begin(), blocks.end(), [&](int64_t a, int64_t b) { return key[a] > key[b]; });
  for (int64_t p = 0; p < n; ++p) q[p] = blocks[p / kB] * kB + p % kB;
  return q;
}

}  // namespace hessq::methods::detail
