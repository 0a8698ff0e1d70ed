#include "hessq/calib/stats.hpp"

#include <cmath>

#include "hessq/core/error.hpp"

namespace hessq::calib {

Stats::Stats(int64_t n_features)
    : n(n_features), XtX(linalg::Mat::Zero(n_features, n_features)), absmax(linalg::Vec::Zero(n_features)),
      abssum(linalg::Vec::Zero(n_features)) {}

void Stats::add(const float* X, int64_t tokens, int64_t n_features) {
  HESSQ_CHECK(n_features == n, "calibration input has {} features, expected {}", n_features, n);
  if (tokens == 0) return;
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> Xf(X, tokens, n);
  HESSQ_CHECK(Xf.allFinite(), "calibration activations contain NaN or Inf ({} tokens x {} features)", tokens, n);
  const linalg::Mat Xd = Xf.cast<double>();
  XtX.selfadjointView<Eigen::Lower>().rankUpdate(Xd.transpose());
  XtX.triangularView<Eigen::StrictlyUpper>() = XtX.transpose();
  absmax = absmax.cwiseMax(Xd.cwiseAbs().colwise().maxCoeff().transpose());
  abssum += Xd.cwiseAbs().colwise().sum().transpose();
  N += tokens;
}

void Stats::merge(const Stats& o) {
  HESSQ_CHECK(o.n == n, "cannot merge statistics of {} and {} features", o.n, n);
  XtX += o.XtX;
  absmax = absmax.cwiseMax(o.absmax);
  abssum += o.abssum;
  N += o.N;
}

linalg::Mat Stats::H() const {
  HESSQ_CHECK(N > 0, "no calibration tokens were seen for this linear");
  return XtX / static_cast<double>(N);
}

linalg::Vec Stats::absmean() const {
  HESSQ_CHECK(N > 0, "no calibration tokens were seen for this linear");
  return abssum / static_cast<double>(N);
}

}  // namespace hessq::calib
