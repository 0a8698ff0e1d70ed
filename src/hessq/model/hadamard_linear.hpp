// HadamardLinear: a linear whose input is rotated online, x -> x M, before an inner linear runs
// (QuaRot, Ashkboos et al. 2024, arXiv:2404.00456: the online Hadamard before down_proj). M is the
// orthogonal n x n matrix
//   M = (H_{2^k} / 2^(k/2)) ⊗ B,    n = 2^k * b,
// H_{2^k} the Sylvester Hadamard matrix and B [b, b] orthogonal (a normalized Hadamard matrix of order
// b, or a seeded random orthogonal matrix where none is known; see transforms/hadamard.hpp). The
// inner linear holds W M instead of W, so the float output is unchanged: (x M)(W M)^T = x W^T, while
// the inner linear (quantized or not) sees the rotated, outlier-free input.
// Cost per token: n b (the dense B blocks) + n k (FWHT), instead of n^2.
//
// Calibration note: Transformer hooks observe the input of this linear, i.e. x *before* the
// rotation. To calibrate the inner linear, rotate the observed inputs with rotate_input() (or
// transform the second moment, H -> M^T H M).
#pragma once
#include <memory>

#include "hessq/core/tensor.hpp"
#include "hessq/model/linear.hpp"

namespace hessq::model {

class HadamardLinear final : public Linear {
 public:
  // inner: in_features() must be 2^k * b; B: [b, b], orthogonal (not checked beyond its shape).
  HadamardLinear(std::shared_ptr<Linear> inner, int k, Tensor B);

  int in_features() const override { return inner_->in_features(); }
  int out_features() const override { return inner_->out_features(); }
  // y = inner(x M). x: [n_tokens, n], y: [n_tokens, m].
  void forward(const float* x, int n_tokens, float* y) const override;

  // out = x M, x and out [n_tokens, n] (may not alias).
  void rotate_input(const float* x, int n_tokens, float* out) const;

  const std::shared_ptr<Linear>& inner() const { return inner_; }
  // The same rotation around another inner linear (e.g. the quantized inner()).
  std::shared_ptr<HadamardLinear> with_inner(std::shared_ptr<Linear> inner) const {
    return std::make_shared<HadamardLinear>(std::move(inner), k_, B_);
  }
  int log2_blocks() const { return k_; }  // k
  const Tensor& base() const { return B_; }  // B [b, b]

 private:
  std::shared_ptr<Linear> inner_;
  int k_;
  Tensor B_;  // [b, b]
};

}  // namespace hessq::model
