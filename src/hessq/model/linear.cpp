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
  add_bias(y, n_tokens);
}

void DenseLinear::add_bias(float* y, int n_tokens) const {
  if (!bias_) return;
  const int m = out_features();
  const float* b = bias_->ptr();
  for (int t = 0; t < n_tokens; ++t)
    for (int i = 0; i < m; ++i) y[static_cast<size_t>(t) * m + i] += b[i];
}

void forward_shared_input(std::span<const LinearCall> calls, const float* x, int n_tokens) {
  constexpr int kMax = 8;
  if (calls.empty()) return;
  kernels::GemvJob jobs[kMax];
  int count = 0;
  const int n = calls.begin()->linear->in_features();
  for (const LinearCall& c : calls) {
    HESSQ_CHECK(c.linear->in_features() == n, "forward_shared_input: inputs of {} and {} features", n,
                c.linear->in_features());
    const auto* dense = dynamic_cast<const DenseLinear*>(c.linear);
    if (n_tokens != 1 || !dense || count == kMax) {
      for (const LinearCall& each : calls) each.linear->forward(x, n_tokens, each.y);
      return;
    }
    jobs[count++] = {dense->weight().ptr(), c.y, dense->out_features()};
  }
  kernels::gemv_f32_many(jobs, count, x, n);
  for (const LinearCall& c : calls) static_cast<const DenseLinear*>(c.linear)->add_bias(c.y, 1);
}

}  // namespace hessq::model
