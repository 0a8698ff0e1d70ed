#include "hessq/methods/rtn.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "hessq/core/error.hpp"

namespace hessq::methods {

using RowMatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_weight(const MatF& W, const char* method) {
  HESSQ_CHECK(W.rows() > 0 && W.cols() > 0, "{}: W is [{}, {}], expected a non-empty matrix", method, W.rows(),
              W.cols());
  if (W.allFinite()) return;
  for (Eigen::Index r = 0; r < W.rows(); ++r)
    for (Eigen::Index c = 0; c < W.cols(); ++c)
      HESSQ_CHECK(std::isfinite(W(r, c)), "{}: W [{}, {}] has a non-finite value ({}) at [{}, {}]", method, W.rows(),
                  W.cols(), W(r, c), r, c);
}

void check_hessian(const linalg::Mat& H, int64_t n, const char* method) {
  HESSQ_CHECK(H.rows() == n && H.cols() == n, "{}: H is [{}, {}], expected [{}, {}] to match W's {} inputs", method,
              H.rows(), H.cols(), n, n, n);
  HESSQ_CHECK(H.allFinite(), "{}: H [{}, {}] has NaN or Inf entries", method, n, n);
  for (int64_t j = 0; j < n; ++j)
    HESSQ_CHECK(H(j, j) >= 0, "{}: H[{}, {}] = {} is negative; H = X^T X / N must be positive semi-definite", method, j,
                j, H(j, j));
}

// Row panels keep the double copy of D small; each panel is one BLAS GEMM (D_p H; H is read as its
// transpose, which leaves the trace unchanged), then a row-wise dot.
template <class Panel>
static double trace_by_panels(Eigen::Index m, const linalg::Mat& H, Panel&& panel) {
  constexpr Eigen::Index kPanel = 512;
  const int n = static_cast<int>(H.rows());
  double t = 0;
  for (Eigen::Index r0 = 0; r0 < m; r0 += kPanel) {
    const RowMatD D = panel(r0, std::min(kPanel, m - r0));
    RowMatD DH(D.rows(), n);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(D.rows()), n, n, 1.0, D.data(), n,
                H.data(), n, 0.0, DH.data(), n);
    t += DH.cwiseProduct(D).sum();
  }
  return t;
}

double quadratic_trace(const MatF& D, const linalg::Mat& H) {
  HESSQ_CHECK(H.rows() == D.cols() && H.cols() == D.cols(), "quadratic trace: H is [{}, {}], expected [{}, {}]",
              H.rows(), H.cols(), D.cols(), D.cols());
  return trace_by_panels(D.rows(), H, [&](Eigen::Index r0, Eigen::Index rows) {
    return RowMatD(D.middleRows(r0, rows).cast<double>());
  });
}

double proxy_loss(const MatF& W, const MatF& W_q, const linalg::Mat& H) {
  HESSQ_CHECK(W.rows() == W_q.rows() && W.cols() == W_q.cols(), "proxy loss: W is [{}, {}] but W_q is [{}, {}]",
              W.rows(), W.cols(), W_q.rows(), W_q.cols());
  HESSQ_CHECK(H.rows() == W.cols() && H.cols() == W.cols(), "proxy loss: H is [{}, {}], expected [{}, {}]", H.rows(),
              H.cols(), W.cols(), W.cols());
  // The difference is taken in double so that it is exact (both operands are floats).
  return trace_by_panels(W.rows(), H, [&](Eigen::Index r0, Eigen::Index rows) {
    return RowMatD(W_q.middleRows(r0, rows).cast<double>() - W.middleRows(r0, rows).cast<double>());
  });
}

QuantizedWeight solve_rtn(const MatF& W, const formats::QuantSpec& spec, const linalg::Mat* H) {
  check_weight(W, "rtn");
  if (H) check_hessian(*H, W.cols(), "rtn");
  QuantizedWeight out;
  out.spec = spec;
  out.W_q.resize(W.rows(), W.cols());
  formats::fake_quant(spec, W.data(), W.rows(), W.cols(), out.W_q.data());
  if (H) out.proxy_loss = proxy_loss(W, out.W_q, *H);
  return out;
}

}  // namespace hessq::methods
