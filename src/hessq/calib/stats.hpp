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
  // X: row-major [tokens, n] floats. Throws on a width mismatch or a non-finite value. `weight`
  // multiplies these tokens' x x^T in XtX only (N, absmax and abssum count each token once).
  void add(const float* X, int64_t tokens, int64_t n_features, double weight = 1);
  void merge(const Stats& other);

  linalg::Mat H() const;        // X^T X / N
  // X^T X / N without a copy: XtX is divided in place and moved out, leaving XtX empty (0 x 0), so a
  // caller can hand H over to a solver that consumes it (methods::solve_gptq(W, stats.take_H(), ...)).
  // The values are bit-identical to H(). Afterwards add, merge, H and take_H throw; absmax, absmean
  // and N stay valid.
  linalg::Mat take_H();
  linalg::Vec absmean() const;  // abssum / N
};

}  // namespace hessq::calib
