#include "hessq/model/linear.hpp"

#include "hessq/core/error.hpp"
#include "hessq/kernels/gemm_f32.hpp"
#include "hessq/kernels/gemv_f32.hpp"
#include "hessq/kernels/int_gemv.hpp"
#include "hessq/model/quantized_linear.hpp"

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

namespace {

// All DenseLinears at one token: one gemv_f32_many. False (nothing done) otherwise.
bool dense_together(std::span<const LinearCall> calls, const float* x, int n) {
  kernels::GemvJob jobs[kernels::kMaxGemvJobs];
  int count = 0;
  for (const LinearCall& c : calls) {
    const auto* dense = dynamic_cast<const DenseLinear*>(c.linear);
    if (!dense || count == kernels::kMaxGemvJobs) return false;
    jobs[count++] = {dense->weight().ptr(), c.y, dense->out_features()};
  }
  kernels::gemv_f32_many(jobs, count, x, n);
  for (const LinearCall& c : calls) static_cast<const DenseLinear*>(c.linear)->add_bias(c.y, 1);
  return true;
}

// All packed QuantizedLinears on int8 activations with one padded width at one token: x quantized
// once, one int_gemv_many. False (nothing done) otherwise.
bool int8_together(std::span<const LinearCall> calls, const float* x, int n) {
  kernels::IntGemvJob jobs[kernels::kMaxIntGemvJobs];
  int count = 0;
  for (const LinearCall& c : calls) {
    const auto* q = dynamic_cast<const QuantizedLinear*>(c.linear);
    if (!q || !q->uses_int8(1) || count == kernels::kMaxIntGemvJobs) return false;
    jobs[count++] = {&*q->blocks(), q->packed().codes.data(), c.y};
  }
  const int64_t padded = jobs[0].L->padded_cols();
  for (int i = 1; i < count; ++i)
    if (jobs[i].L->padded_cols() != padded) return false;
  kernels::ActQ8 xq;
  kernels::quantize_act_q8(x, n, padded, xq);
  kernels::int_gemv_many(jobs, count, xq, kernels::int_gemv_best_isa());
  for (const LinearCall& c : calls) static_cast<const QuantizedLinear*>(c.linear)->add_bias(c.y, 1);
  return true;
}

}  // namespace

void forward_shared_input(std::span<const LinearCall> calls, const float* x, int n_tokens) {
  if (calls.empty()) return;
  const int n = calls.begin()->linear->in_features();
  for (const LinearCall& c : calls)
    HESSQ_CHECK(c.linear->in_features() == n, "forward_shared_input: inputs of {} and {} features", n,
                c.linear->in_features());
  if (n_tokens == 1 && (dense_together(calls, x, n) || int8_together(calls, x, n))) return;
  for (const LinearCall& each : calls) each.linear->forward(x, n_tokens, each.y);
}

}  // namespace hessq::model
