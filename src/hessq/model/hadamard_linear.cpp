#include "hessq/model/hadamard_linear.hpp"

#include <cmath>
#include <cstring>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/kernels/fwht.hpp"
#include "hessq/kernels/gemm_f32.hpp"

namespace hessq::model {

HadamardLinear::HadamardLinear(std::shared_ptr<Linear> inner, int k, Tensor B)
    : inner_(std::move(inner)), k_(k), B_(std::move(B)) {
  HESSQ_CHECK(inner_ != nullptr, "HadamardLinear: no inner linear");
  HESSQ_CHECK(k_ >= 0 && k_ <= 30, "HadamardLinear: k = {} out of range [0, 30]", k_);
  HESSQ_CHECK(B_.shape.size() == 2 && B_.shape[0] == B_.shape[1], "HadamardLinear: base must be square, got {}",
              shape_str(B_.shape));
  const int64_t n = B_.shape[0] << k_;
  HESSQ_CHECK(n == inner_->in_features(),
              "HadamardLinear: rotation of size 2^{} * {} = {}, but the inner linear has {} inputs", k_, B_.shape[0], n,
              inner_->in_features());
}

void HadamardLinear::rotate_input(const float* x, int n_tokens, float* out) const {
  const int64_t b = B_.shape[0], n = b << k_;
  const float norm = static_cast<float>(1.0 / std::sqrt(std::ldexp(1.0, k_)));  // 2^(-k/2)
  if (b == 1) {  // B = [±1]: fold it into the FWHT's scale
    std::memcpy(out, x, sizeof(float) * static_cast<size_t>(n_tokens) * n);
    kernels::fwht_f32(out, n_tokens, k_, b, norm * B_.ptr()[0]);
    return;
  }
  // Step 1: every length-b block times B: [n_tokens 2^k, b] x [b, b].
  const int rows = n_tokens << k_;
  kernels::gemm_f32_rows(false, false, rows, b, b, 1.0f, x, b, B_.ptr(), b, 0.0f, out, b);
  // Step 2: H_{2^k} / 2^(k/2) across the blocks.
  if (k_ > 0) kernels::fwht_f32(out, n_tokens, k_, b, norm);
}

void HadamardLinear::forward(const float* x, int n_tokens, float* y) const {
  std::vector<float> xr(static_cast<size_t>(n_tokens) * in_features());
  rotate_input(x, n_tokens, xr.data());
  inner_->forward(xr.data(), n_tokens, y);
}

}  // namespace hessq::model
