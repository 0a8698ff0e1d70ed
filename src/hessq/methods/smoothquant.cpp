#include "hessq/methods/smoothquant.hpp"

#include <cmath>

#include "hessq/core/error.hpp"

namespace hessq::methods {

std::vector<double> SmoothOptions::default_alpha_grid() {
  std::vector<double> g;
  for (int i = 0; i <= 20; ++i) g.push_back(i * 0.05);
  return g;
}

VecF smooth_scales(const MatF& W, const VecF& absmax, double alpha, const SmoothOptions& opt) {
  HESSQ_CHECK(absmax.size() == W.cols(), "smoothing: absmax has {} channels, the weight has {} inputs", absmax.size(),
              W.cols());
  HESSQ_CHECK(alpha >= 0 && alpha <= 1, "smoothing alpha must lie in [0, 1], got {}", alpha);
  VecF s(W.cols());
  for (Eigen::Index j = 0; j < W.cols(); ++j) {
    const double a = std::max<double>(absmax[j], opt.min_stat);
    const double w = std::max<double>(W.col(j).cwiseAbs().maxCoeff(), opt.min_stat);
    s[j] = static_cast<float>(std::max(std::pow(a, alpha) / std::pow(w, 1.0 - alpha), opt.min_scale));
  }
  return s;
}

MatF smooth_weight(const MatF& W, const VecF& s) { return W * s.asDiagonal(); }

MatF smooth_input(const MatF& X, const VecF& s) { return X * s.cwiseInverse().asDiagonal(); }

VecF column_absmax(const MatF& X) {
  if (X.rows() == 0) return VecF::Zero(X.cols());
  return X.cwiseAbs().colwise().maxCoeff().transpose();
}

SmoothResult search_smoothing(const MatF& W, const MatF& X_calib, const LayerFormat& f, const SmoothOptions& opt) {
  HESSQ_CHECK(!opt.alpha_grid.empty(), "smoothing: the alpha grid is empty");
  HESSQ_CHECK(X_calib.cols() == W.cols(), "smoothing: activations have {} channels, the weight has {} inputs",
              X_calib.cols(), W.cols());
  // Step 1: statistics.
  const VecF absmax = column_absmax(X_calib);
  const MatF X = strided_rows(X_calib, opt.max_search_tokens);
  const MatF Y = matmul_nt(X, W);
  // Step 2: output MSE of the quantized, smoothed layer for each alpha.
  SmoothResult r;
  double best = std::numeric_limits<double>::infinity();
  for (double alpha : opt.alpha_grid) {
    const VecF s = smooth_scales(W, absmax, alpha, opt);
    const MatF Y_hat = matmul_nt(fake_quant_padded(f.x, smooth_input(X, s)), fake_quant_padded(f.w, smooth_weight(W, s)));
    const double mse = output_error(Y, Y_hat).noise / static_cast<double>(std::max<Eigen::Index>(Y.size(), 1));
    r.mse.push_back(mse);
    // Step 3: keep the best (strictly better, so ties keep the smaller alpha).
    if (mse < best) {
      best = mse;
      r.alpha = alpha;
      r.s = s;
    }
  }
  HESSQ_CHECK(r.s.size() == W.cols(), "smoothing: no alpha gave a finite output error");
  return r;
}

}  // namespace hessq::methods
