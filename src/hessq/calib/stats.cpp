#include "hessq/calib/stats.hpp"

#include <cmath>
#include <utility>

#include "hessq/core/error.hpp"

namespace hessq::calib {

Stats::Stats(int64_t n_features)
    : n(n_features), XtX(linalg::Mat::Zero(n_features, n_features)), absmax(linalg::Vec::Zero(n_features)),
      abssum(linalg::Vec::Zero(n_features)) {}

namespace {

void check_has_XtX(const Stats& s) {
  HESSQ_CHECK(s.XtX.rows() == s.n && s.XtX.cols() == s.n,
              "the X^T X of these {}-feature statistics was handed over by take_H()", s.n);
}

}  // namespace

void Stats::add(const float* X, int64_t tokens, int64_t n_features, double weight) {
  check_has_XtX(*this);
  HESSQ_CHECK(n_features == n, "calibration input has {} features, expected {}", n_features, n);
  if (tokens == 0) return;
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> Xf(X, tokens, n);
  HESSQ_CHECK(Xf.allFinite(), "calibration activations contain NaN or Inf ({} tokens x {} features)", tokens, n);
  const linalg::Mat Xd = Xf.cast<double>();
  HESSQ_CHECK(std::isfinite(weight) && weight >= 0, "calibration token weight {} must be finite and >= 0", weight);
  XtX.selfadjointView<Eigen::Lower>().rankUpdate(Xd.transpose(), weight);
  XtX.triangularView<Eigen::StrictlyUpper>() = XtX.transpose();
  absmax = absmax.cwiseMax(Xd.cwiseAbs().colwise().maxCoeff().transpose());
  abssum += Xd.cwiseAbs().colwise().sum().transpose();
  N += tokens;
}

void Stats::merge(const Stats& o) {
  HESSQ_CHECK(o.n == n, "cannot merge statistics of {} and {} features", o.n, n);
  check_has_XtX(*this);
  check_has_XtX(o);
  XtX += o.XtX;
  absmax = absmax.cwiseMax(o.absmax);
  abssum += o.abssum;
  N += o.N;
}

linalg::Mat Stats::H() const {
  HESSQ_CHECK(N > 0, "no calibration tokens were seen for this linear");
  check_has_XtX(*this);
  return XtX / static_cast<double>(N);
}

linalg::Mat Stats::take_H() {
  HESSQ_CHECK(N > 0, "no calibration tokens were seen for this linear");
  check_has_XtX(*this);
  XtX /= static_cast<double>(N);  // the same division, element by element, as H()
  linalg::Mat H = std::move(XtX);
  XtX = linalg::Mat();  // empty whatever the moved-from state: the Stats no longer owns an X^T X
  return H;
}

linalg::Vec Stats::absmean() const {
  HESSQ_CHECK(N > 0, "no calibration tokens were seen for this linear");
  return abssum / static_cast<double>(N);
}

}  // namespace hessq::calib
