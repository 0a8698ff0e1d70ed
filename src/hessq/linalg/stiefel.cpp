#include "hessq/linalg/stiefel.hpp"

#include <cblas.h>

#include <cmath>

#include "hessq/core/error.hpp"

namespace hessq::linalg {

namespace {

// C = alpha op(A) op(B) + beta C, column-major, through OpenBLAS (thread-count independent).
void gemm(bool ta, const Mat& A, bool tb, const Mat& B, double alpha, double beta, Mat& C) {
  const Eigen::Index m = ta ? A.cols() : A.rows(), k = ta ? A.rows() : A.cols();
  const Eigen::Index n = tb ? B.rows() : B.cols();
  if (beta == 0) C.resize(m, n);
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, A.data(), static_cast<int>(A.rows()), B.data(),
              static_cast<int>(B.rows()), beta, C.data(), static_cast<int>(C.rows()));
}

}  // namespace

Mat stiefel_skew(const Mat& X, const Mat& G) {
  HESSQ_CHECK(X.rows() == G.rows() && X.cols() == G.cols(), "stiefel: X is [{}, {}] but its gradient G is [{}, {}]",
              X.rows(), X.cols(), G.rows(), G.cols());
  Mat Omega;
  gemm(false, G, true, X, 1.0, 0.0, Omega);  // G X^T
  Mat t = Omega.transpose();                 // X G^T
  Omega -= t;
  return Omega;
}

Mat cayley_retract(const Mat& X, const Mat& Omega, double alpha, const CayleyOptions& opt) {
  const Eigen::Index n = X.rows();
  HESSQ_CHECK(X.cols() <= n && X.cols() > 0, "cayley step: X is [{}, {}], expected n >= p > 0", n, X.cols());
  HESSQ_CHECK(Omega.rows() == n && Omega.cols() == n,
              "cayley step: Omega is [{}, {}], expected [{}, {}] for X [{}, {}]", Omega.rows(), Omega.cols(), n, n, n,
              X.cols());
  HESSQ_CHECK(X.allFinite() && Omega.allFinite() && std::isfinite(alpha),
              "cayley step: X, Omega or alpha = {} holds NaN or Inf", alpha);
  const double kf = 0.5 * std::abs(alpha) * Omega.norm();
  HESSQ_CHECK(kf < 1, "cayley step: ||alpha/2 Omega||_F = {:.3g} must be < 1 (alpha = {:.3g}); take a smaller step", kf,
              alpha);
  HESSQ_CHECK(opt.tol >= 0 && opt.max_iters >= 1, "cayley step: tol = {} must be >= 0 and max_iters = {} >= 1", opt.tol,
              opt.max_iters);
  // Y <- X - (alpha/2) Omega (X + Y), from Y = X.
  Mat Y = X, Z(n, X.cols());
  for (int it = 0; it < opt.max_iters; ++it) {
    Z = X + Y;
    Mat Ynew = X;
    gemm(false, Omega, false, Z, -0.5 * alpha, 1.0, Ynew);
    const double delta = (Ynew - Y).cwiseAbs().maxCoeff();
    Y.swap(Ynew);
    if (delta <= opt.tol) break;
  }
  return Y;
}

double orthogonality_error(const Mat& X) {
  Mat XtX;
  gemm(true, X, false, X, 1.0, 0.0, XtX);
  XtX.diagonal().array() -= 1.0;
  return XtX.size() ? XtX.cwiseAbs().maxCoeff() : 0.0;
}

}  // namespace hessq::linalg
