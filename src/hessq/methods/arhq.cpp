#include "hessq/core/timer.hpp"
#include "hessq/methods/arhq.hpp"

#include <cblas.h>

#include <algorithm>
#include <chrono>

#include "hessq/core/error.hpp"
#include "hessq/methods/layer_quant.hpp"

namespace hessq::methods {

namespace {

// A B for column-major double matrices through BLAS (the m n^2 products of large layers).
linalg::Mat dgemm(const linalg::Mat& A, const linalg::Mat& B) {
  linalg::Mat C(A.rows(), B.cols());
  if (C.size() == 0) return C;
  if (A.cols() == 0) return linalg::Mat::Zero(A.rows(), B.cols());
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(A.rows()), static_cast<int>(B.cols()),
              static_cast<int>(A.cols()), 1.0, A.data(), static_cast<int>(A.rows()), B.data(),
              static_cast<int>(B.rows()), 0.0, C.data(), static_cast<int>(C.rows()));
  return C;
}
}  // namespace

const char* svd_kind_name(SvdKind k) { return k == SvdKind::Exact ? "exact" : "randomized"; }

Metric identity_metric(int64_t n) {
  Metric g;
  g.identity = true;
  g.n = n;
  return g;
}

Metric make_metric(const linalg::Mat& G, double eps, bool relative) {
  HESSQ_CHECK(G.rows() == G.cols(), "ARHQ: the metric is {}x{}, expected square", G.rows(), G.cols());
  HESSQ_CHECK(eps > 0, "ARHQ: the eigenvalue clamp must be > 0, got {}", eps);
  const auto t0 = Clock::now();
  // Steps 1-2: G = U diag(l) U^T, l_i >= floor.
  linalg::Eigh e = linalg::eigh(G);
  Metric g;
  g.n = G.rows();
  g.eigh_s = seconds_since(t0);
  const double top = e.values.size() ? e.values.maxCoeff() : 0.0;
  g.floor = relative ? eps * std::max(top, 0.0) : eps;
  HESSQ_CHECK(g.floor > 0,
              "ARHQ: the {}x{} metric G has no positive eigenvalue (largest {}): the activation quantizer is lossless "
              "on the calibration tokens, so there is no residual to shape",
              G.rows(), G.cols(), top);
  g.U = std::move(e.vectors);
  g.l = std::move(e.values);
  for (Eigen::Index i = 0; i < g.l.size(); ++i)
    if (g.l[i] < g.floor) {
      g.l[i] = g.floor;
      ++g.clamped;
    }
  return g;
}

MatF lowrank_residual(const MatF& W, const MatF& A, const MatF& B) {
  if (A.cols() == 0) return W;
  const linalg::Mat L = B.cast<double>() * A.cast<double>().transpose();
  return (W.cast<double>() - L).cast<float>();
}

MetricWeight metric_weight(const MatF& W, const Metric& G) {
  HESSQ_CHECK(G.n == W.cols(), "ARHQ: the metric is over {} inputs, the weight [{}, {}] has {}", G.n, W.rows(), W.cols(),
              W.cols());
  const auto t0 = Clock::now();
  // Step 3: M' = W U diag(sqrt l)  (M = M' U^T = W G^(1/2)).
  MetricWeight mw;
  mw.M = W.cast<double>();
  if (!G.identity) mw.M = dgemm(mw.M, G.U) * G.l.cwiseSqrt().asDiagonal();
  mw.seconds = seconds_since(t0);
  return mw;
}

ArhqResult solve_lowrank(const MatF& W, const Metric& G, const ArhqOptions& opt) {
  if (opt.rank == 0) return solve_lowrank(W, G, MetricWeight{}, opt);  // nothing to form
  return solve_lowrank(W, G, metric_weight(W, G), opt);
}

ArhqResult solve_lowrank(const MatF& W, const Metric& G, const MetricWeight& MW, const ArhqOptions& opt) {
  const int64_t m = W.rows(), n = W.cols(), k = std::min(m, n);
  const int r = opt.rank;
  HESSQ_CHECK(G.n == n, "ARHQ: the metric is over {} inputs, the weight [{}, {}] has {}", G.n, m, n, n);
  HESSQ_CHECK(r >= 0 && r <= k, "ARHQ: rank {} is out of range for a [{}, {}] weight (at most min(m, n) = {})", r, m,
              n, k);
  ArhqResult res;
  res.svd = opt.svd;
  res.clamped = G.clamped;
  res.time.eigh_s = G.eigh_s;
  if (r == 0) {
    res.A = MatF(n, 0);
    res.B = MatF(m, 0);
    res.W_res = W;
    return res;
  }
  HESSQ_CHECK(MW.M.rows() == m && MW.M.cols() == n, "ARHQ: M' is [{}, {}], expected [{}, {}]", MW.M.rows(),
              MW.M.cols(), m, n);
  // Step 4: rank-r SVD M' ~ P_r S_r Q_r^T;  B = P_r S_r,  A = U diag(1/sqrt l) Q_r = G^(-1/2) V_r.
  const auto t1 = Clock::now();
  linalg::Svd s = opt.svd == SvdKind::Exact ? linalg::svd_truncated(MW.M, r)
                                            : linalg::svd_randomized(MW.M, r, opt.oversample, opt.power_iters, opt.seed);
  res.time.svd_s = seconds_since(t1);
  const auto t2 = Clock::now();
  res.S = s.S;
  res.B = (s.U * s.S.asDiagonal()).cast<float>();
  res.A = G.identity ? MatF(s.V.cast<float>())
                     : MatF(dgemm(G.U, G.l.cwiseSqrt().cwiseInverse().asDiagonal() * s.V).cast<float>());
  // Step 5: W_res = W - L.
  res.W_res = lowrank_residual(W, res.A, res.B);
  res.time.rest_s = MW.seconds + seconds_since(t2);
  return res;
}

ArhqResult solve_arhq(const MatF& W, const linalg::Mat& G, const ArhqOptions& opt) {
  return solve_lowrank(W, make_metric(G, opt.eps, opt.eps_relative), opt);
}

ArhqResult truncate_rank(const ArhqResult& full, const MatF& W, int r) {
  HESSQ_CHECK(r >= 0 && r <= full.A.cols(), "ARHQ: cannot cut a rank-{} solution to rank {}", full.A.cols(), r);
  HESSQ_CHECK(full.svd == SvdKind::Exact || r == full.A.cols(),
              "ARHQ: prefixes of a randomized SVD are not the rank-{} solution; solve at that rank", r);
  ArhqResult res = full;
  res.A = full.A.leftCols(r);
  res.B = full.B.leftCols(r);
  res.S = full.S.head(r);
  res.W_res = lowrank_residual(W, res.A, res.B);
  return res;
}

linalg::Mat second_moment(const MatF& X) {
  check_finite(X, "calibration activations");
  const int64_t N = X.rows(), n = X.cols();
  HESSQ_CHECK(N > 0, "no calibration tokens ({} features)", n);
  constexpr int64_t kBlock = 1024;  // rows converted to double at a time (bounds the copy)
  linalg::Mat C = linalg::Mat::Zero(n, n);
  for (int64_t t = 0; t < N; t += kBlock) {
    const int64_t rows = std::min(kBlock, N - t);
    const linalg::Mat Xb = X.middleRows(t, rows).cast<double>();  // column-major [rows, n]
    cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, static_cast<int>(n), static_cast<int>(rows), 1.0, Xb.data(),
                static_cast<int>(rows), 1.0, C.data(), static_cast<int>(n));
  }
  C.triangularView<Eigen::StrictlyUpper>() = C.transpose();
  return C / static_cast<double>(N);
}

linalg::Mat residual_hessian(const MatF& X_calib, const formats::QuantSpec& x_spec) {
  check_finite(X_calib, "calibration activations");
  // Step 1: E = X - Q_x(X), G = E^T E / N accumulated in double.
  return second_moment(X_calib - fake_quant_padded(x_spec, X_calib));
}

linalg::Mat arhq_h_metric(const linalg::Mat& H, const linalg::Mat& G, double mult) {
  HESSQ_CHECK(H.rows() == G.rows() && H.cols() == G.cols(), "arhq-h: H is {}x{}, G is {}x{}", H.rows(), H.cols(),
              G.rows(), G.cols());
  HESSQ_CHECK(mult >= 0, "arhq-h: the multiplier must be >= 0, got {}", mult);
  const double dG = G.diagonal().mean(), dH = H.diagonal().mean();
  HESSQ_CHECK(dG > 0, "arhq-h: G has zero trace (the activation quantizer is lossless on the calibration tokens)");
  const double beta = dH / dG;
  return H + (mult * beta) * G;
}

double metric_objective(const MatF& R, const linalg::Mat& G) {
  HESSQ_CHECK(R.cols() == G.rows(), "objective: R has {} columns, G is {}x{}", R.cols(), G.rows(), G.cols());
  const linalg::Mat Rd = R.cast<double>();
  return (Rd * G).cwiseProduct(Rd).sum();
}

}  // namespace hessq::methods
