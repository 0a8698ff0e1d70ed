// Stats: calibration statistics of one linear input (METHODS.md "Notation"), accumulated in double
// over any number of token batches: H = X^T X / N, per-channel absmax and absmean.
#pragma once
#include <cstdint>

#include "hessq/linalg/linalg.hpp"

namespace hessq::calib {

struct Stats {
  int64_t n = 0;        // features (input dim)
  int64_t N = 0;        // tokens seen
  linalg::Mat XtX;      // [n, n] sum over tokens of x x^T
  linalg::Vec absmax;   // [n] max_t |X_tj|
  linalg::Vec abssum;   // [n] sum_t |X_tj|

  explicit Stats(int64_t n_features = 0);
  // X: row-major [tokens, n] floats. Throws on a width mismatch or a non-finite value.
  void add(const float* X, int64_t tokens, int64_t n_features);
  void merge(const Stats& other);

  linalg::Mat H() const;        // X^T X / N
  linalg::Vec absmean() const;  // abssum / N
};

}  // namespace hessq::calib
