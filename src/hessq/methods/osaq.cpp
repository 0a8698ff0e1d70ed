#include "hessq/methods/osaq.hpp"

#include <algorithm>
#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods {

namespace {

void check_options(const OsaqOptions& opt) {
  HESSQ_CHECK(opt.gamma >= 0 && opt.gamma <= 1, "osaq: gamma = {} must be in [0, 1]", opt.gamma);
  HESSQ_CHECK(opt.tau > 0 && std::isfinite(opt.tau), "osaq: tau = {} must be finite and > 0", opt.tau);
  HESSQ_CHECK(opt.mu1 >= 0 && opt.mu2 >= 0 && std::isfinite(opt.mu1) && std::isfinite(opt.mu2),
              "osaq: mu1 = {} and mu2 = {} must be finite and >= 0", opt.mu1, opt.mu2);
}

// Steps 2-3 for one row: b = -(N^T S N + mu1' I + mu2' v v^T)^-1 N^T S w; returns dw = N b.
linalg::Vec absorb_row(const linalg::Vec& w, const linalg::Mat& N, const linalg::Vec& v, const OsaqOptions& opt) {
  const int64_t K = N.cols();
  const double amax = w.cwiseAbs().maxCoeff();
  if (amax == 0) return linalg::Vec::Zero(w.size());
  // Step 2: softmax of |w| / tau_i, shifted by the max for range safety.
  const double tau_i = opt.tau * amax;
  linalg::Vec s = ((w.cwiseAbs().array() - amax) / tau_i).exp();
  s /= s.sum();
  // Step 3: the K x K system.
  const linalg::Mat Ns = s.cwiseSqrt().asDiagonal() * N;  // S^(1/2) N
  linalg::Mat A = linalg::Mat::Zero(K, K);
  A.selfadjointView<Eigen::Lower>().rankUpdate(Ns.transpose());
  A = A.selfadjointView<Eigen::Lower>();
  const double t = A.trace() / static_cast<double>(K);
  A.diagonal().array() += opt.mu1 * t;
  A += (opt.mu2 * t) * v * v.transpose();
  const linalg::Vec rhs = -(N.transpose() * s.cwiseProduct(w));
  const linalg::Vec b = A.ldlt().solve(rhs);
  return N * b;
}

}  // namespace

int osaq_null_dim(const linalg::Vec& l, double gamma, OsaqKRule rule) {
  HESSQ_CHECK(gamma >= 0 && gamma <= 1, "osaq: gamma = {} must be in [0, 1]", gamma);
  const linalg::Vec e = l.cwiseMax(0.0);
  const double target = gamma * e.sum();
  double tail = 0;
  for (int64_t k = 0; k < e.size(); ++k) {
    if (rule == OsaqKRule::Reach && tail >= target) return static_cast<int>(k);
    if (rule == OsaqKRule::Below && tail + e[k] > target) return static_cast<int>(k);
    tail += e[k];
  }
  return static_cast<int>(e.size());
}

linalg::Mat osaq_null_space(const linalg::Mat& H, double gamma, OsaqKRule rule) {
  const linalg::Eigh eh = linalg::eigh(H);
  return eh.vectors.leftCols(osaq_null_dim(eh.values, gamma, rule));
}

OsaqResult solve_osaq(const MatF& W, const linalg::Mat& H, const OsaqOptions& opt) {
  check_weight(W, "osaq");
  check_hessian(H, W.cols(), "osaq");
  check_options(opt);
  // Step 1: null space of H.
  return solve_osaq_basis(W, osaq_null_space(H, opt.gamma, opt.k_rule), opt);
}

OsaqResult solve_osaq_basis(const MatF& W, const linalg::Mat& N, const OsaqOptions& opt) {
  check_weight(W, "osaq");
  const int64_t m = W.rows(), n = W.cols();
  HESSQ_CHECK(N.rows() == n && N.cols() <= n && N.allFinite(),
              "osaq: null basis N is [{}, {}] (finite values expected), W has {} inputs", N.rows(), N.cols(), n);
  check_options(opt);
  OsaqResult res;
  res.K = static_cast<int>(N.cols());
  res.dW = MatF::Zero(m, n);

  // Steps 2-4, rows independent.
  if (res.K > 0) {
    const linalg::Vec v = N.transpose() * linalg::Vec::Ones(n);
#pragma omp parallel for schedule(dynamic, 8)
    for (int64_t r = 0; r < m; ++r) {
      const linalg::Vec w = W.row(r).transpose().cast<double>();
      res.dW.row(r) = absorb_row(w, N, v, opt).transpose().cast<float>();
      if (opt.row_guard && (W.row(r) + res.dW.row(r)).cwiseAbs().maxCoeff() > W.row(r).cwiseAbs().maxCoeff())
        res.dW.row(r).setZero();
    }
    HESSQ_CHECK(res.dW.allFinite(), "osaq: a row system (K = {}) is singular; use mu1 > 0 (got {})", res.K, opt.mu1);
    for (int64_t r = 0; r < m; ++r) res.rows_changed += res.dW.row(r).cwiseAbs().maxCoeff() > 0;
  }

  const MatF Wn = W + res.dW;
  res.maxabs_before = W.cwiseAbs().maxCoeff();
  res.maxabs_after = Wn.cwiseAbs().maxCoeff();
  res.row_maxabs_before = W.cwiseAbs().rowwise().maxCoeff().cast<double>().mean();
  res.row_maxabs_after = Wn.cwiseAbs().rowwise().maxCoeff().cast<double>().mean();
  return res;
}

double output_change_ratio(const MatF& W, const MatF& dW, const linalg::Mat& H_eval) {
  HESSQ_CHECK(W.rows() == dW.rows() && W.cols() == dW.cols(), "output change ratio: W is [{}, {}] but dW is [{}, {}]",
              W.rows(), W.cols(), dW.rows(), dW.cols());
  const double base = quadratic_trace(W, H_eval);
  HESSQ_CHECK(base > 0, "output change ratio: the layer output X W^T is zero on the evaluation tokens");
  return std::sqrt(std::max(quadratic_trace(dW, H_eval), 0.0) / base);
}

bool osaq_guard_rejects(double ratio_calib, double max_ratio) { return max_ratio > 0 && ratio_calib > max_ratio; }

std::vector<double> null_space_angles(const linalg::Mat& H_a, const linalg::Mat& H_b, double gamma, OsaqKRule rule) {
  HESSQ_CHECK(H_a.rows() == H_b.rows() && H_a.cols() == H_b.cols(),
              "null space angles: H_a is [{}, {}] but H_b is [{}, {}]", H_a.rows(), H_a.cols(), H_b.rows(), H_b.cols());
  const linalg::Mat Na = osaq_null_space(H_a, gamma, rule), Nb = osaq_null_space(H_b, gamma, rule);
  if (Na.cols() == 0 || Nb.cols() == 0) return {};
  const linalg::Svd sv = linalg::svd(Na.transpose() * Nb);  // singular values = cos(angles), descending
  std::vector<double> angles(sv.S.size());
  for (int64_t i = 0; i < sv.S.size(); ++i) angles[i] = std::acos(std::clamp(sv.S[i], -1.0, 1.0));
  return angles;
}

}  // namespace hessq::methods
