// Linear: every projection of the model goes through this interface, so later stages can observe its
// inputs (hooks, see transformer.hpp) and replace it (quantized linears) without touching the forward.
#pragma once
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "hessq/core/tensor.hpp"

namespace hessq::model {

// The seven projections of a Llama block, named as in HuggingFace checkpoints.
enum class Proj { Q, K, V, O, Gate, Up, Down };
inline constexpr Proj kAllProjs[] = {Proj::Q, Proj::K, Proj::V, Proj::O, Proj::Gate, Proj::Up, Proj::Down};
const char* proj_name(Proj p);  // "q_proj", ..., "down_proj"

struct LinearId {
  int layer = 0;  // -1 for the output head
  Proj proj = Proj::Q;
};

class Linear {
 public:
  virtual ~Linear() = default;
  virtual int in_features() const = 0;   // n
  virtual int out_features() const = 0;  // m
  // y[t, :] = x[t, :] W^T (+ b) for t < n_tokens. x: [n_tokens, n], y: [n_tokens, m], row-major.
  virtual void forward(const float* x, int n_tokens, float* y) const = 0;
};

// A float32 linear layer, W row-major [m, n] (HF layout), optional bias [m].
class DenseLinear final : public Linear {
 public:
  DenseLinear(Tensor W, std::optional<Tensor> bias = std::nullopt);
  int in_features() const override { return static_cast<int>(W_.shape[1]); }
  int out_features() const override { return static_cast<int>(W_.shape[0]); }
  void forward(const float* x, int n_tokens, float* y) const override;
  const Tensor& weight() const { return W_; }
  const std::optional<Tensor>& bias() const { return bias_; }
  void add_bias(float* y, int n_tokens) const;  // y[t, :] += b (nothing without a bias)

 private:
  Tensor W_;                   // [m, n]
  std::optional<Tensor> bias_;  // [m]
};

// Linears that read the same input (q/k/v, gate/up): y = linear(x) for each. At decode
// (n_tokens == 1) DenseLinears share one parallel GEMV (kernels::gemv_f32_many: one fork/join for
// all), and packed QuantizedLinears on int8 activations one quantization of x and one parallel
// int_gemv_many; otherwise each forward runs in turn. The same bytes either way.
struct LinearCall {
  const Linear* linear;
  float* y;
};
void forward_shared_input(std::span<const LinearCall> calls, const float* x, int n_tokens);

}  // namespace hessq::model
