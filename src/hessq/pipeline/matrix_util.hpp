// Conversions between Tensor and Eigen matrices, and zero padding of a weight's inputs (and of the
// matching H) to the solver's group multiple: shared by the weight-only and the W4A4 drivers.
#pragma once
#include <Eigen/Dense>

#include "hessq/core/tensor.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::pipeline {

inline methods::MatF to_mat(const Tensor& t) { return Eigen::Map<const methods::MatF>(t.ptr(), t.rows(), t.cols()); }

inline Tensor to_tensor(const methods::MatF& M) {
  Tensor t = Tensor::zeros({M.rows(), M.cols()});
  Eigen::Map<methods::MatF>(t.ptr(), M.rows(), M.cols()) = M;
  return t;
}

// W [m, k] -> [m, n] (n >= k) with zero columns appended.
inline methods::MatF pad_cols(const methods::MatF& W, int64_t n) {
  if (W.cols() == n) return W;
  methods::MatF P = methods::MatF::Zero(W.rows(), n);
  P.leftCols(W.cols()) = W;
  return P;
}

// H [k, k] -> [n, n] with zero rows and columns appended (GPTQ treats them as dead inputs).
inline linalg::Mat pad_sym(const linalg::Mat& H, int64_t n) {
  if (H.rows() == n) return H;
  linalg::Mat P = linalg::Mat::Zero(n, n);
  P.topLeftCorner(H.rows(), H.cols()) = H;
  return P;
}

}  // namespace hessq::pipeline
