#include "hessq/model/linear.hpp"

#include "hessq/core/error.hpp"
#include "hessq/kernels/gemm_f32.hpp"
#include "hessq/kernels/gemv_f32.hpp"

namespace hessq::model {

const char* proj_name(Proj p) {
  switch (p) {
    case Proj::Q: return "q_proj";
    case Proj::K: return "k_proj";
    case Proj::V: return "v_proj";
    case Proj::O: return "o_proj";
    case Proj::Gate: return "gate_proj";
    case Proj::Up: return "up_proj";
    case Proj::Down: return "down_proj";
  }
  return "?";
}

DenseLinear::DenseLinear(Tensor W, std::optional<Tensor> bias) : W_(std::move(W)), bias_(std::move(bias)) {
  HESSQ_CHECK(W_.shape.size() == 2, "linear weight must be 2-D, got {}", shape_str(W_.shape));
  HESSQ_CHECK(!bias_ || bias_->numel() == W_.shape[0], "linear bias has {} values, expected {}",
              bias_ ? bias_->numel() : 0, W_.shape[0]);
}

void DenseLinear::forward(const float* x, int n_tokens, float* y) const {
  const int m = out_features(), n = in_features();
  if (n_tokens == 1) {  // decode: a matrix-vector product, memory-bound on W
    kernels::gemv_f32(W_.ptr(), x, y, m, n);
  } else {
    kernels::gemm_f32_rows(false, true, n_tokens, m, n, 1.0f, x, n, W_.ptr(), n, 0.0f, y, m);
  }
  if (bias_) {
    const float* b = bias_->ptr();
    for (int t = 0; t < n_tokens; ++t)
      for (int i = 0; i < m; ++i) y[static_cast<size_t>(t) * m + i] += b[i];
  }
}

}  // namespace hessq::model
