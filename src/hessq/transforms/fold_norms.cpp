#include "hessq/transforms/fold_norms.hpp"

#include <algorithm>

#include "hessq/core/error.hpp"

namespace hessq::transforms {

const model::DenseLinear& dense_linear(const model::Linear& lin, const std::string& name) {
  auto* d = dynamic_cast<const model::DenseLinear*>(&lin);
  HESSQ_CHECK(d != nullptr, "{} is not a dense float linear (transforms run on the float model, before quantization)",
              name);
  return *d;
}

std::string linear_name(int layer, model::Proj p) {
  const bool attn = p == model::Proj::Q || p == model::Proj::K || p == model::Proj::V || p == model::Proj::O;
  return model::layer_tensor_name(layer, std::string(attn ? "self_attn." : "mlp.") + model::proj_name(p));
}

namespace {

// A new DenseLinear with W diag(w) (columns scaled), same bias.
std::shared_ptr<model::Linear> scale_columns(const model::DenseLinear& d, const Tensor& w) {
  const Tensor& W = d.weight();
  const int64_t m = W.shape[0], n = W.shape[1];
  HESSQ_CHECK(w.numel() == n, "norm of {} values folded into a linear with {} inputs", w.numel(), n);
  Tensor out = Tensor::zeros(W.shape);
  const float *src = W.ptr(), *ws = w.ptr();
  float* dst = out.ptr();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) dst[i * n + j] = src[i * n + j] * ws[j];
  return std::make_shared<model::DenseLinear>(std::move(out), d.bias());
}

Tensor ones_like(const Tensor& t) {
  Tensor o = Tensor::zeros(t.shape);
  std::fill(o.ptr(), o.ptr() + o.numel(), 1.0f);
  return o;
}

}  // namespace

void fold_norms(model::Model& m) {
  using model::Proj;
  // Check every consumer first, so a failure leaves the model as it was.
  for (int l = 0; l < m.cfg.n_layers; ++l)
    for (Proj p : {Proj::Q, Proj::K, Proj::V, Proj::Gate, Proj::Up})
      dense_linear(*m.layers[l].linear(p), linear_name(l, p));
  const model::DenseLinear& head = dense_linear(*m.lm_head, "lm_head");

  for (int l = 0; l < m.cfg.n_layers; ++l) {
    model::LayerWeights& L = m.layers[l];
    for (Proj p : {Proj::Q, Proj::K, Proj::V})
      L.linear(p) = scale_columns(dense_linear(*L.linear(p), linear_name(l, p)), L.attn_norm);
    for (Proj p : {Proj::Gate, Proj::Up})
      L.linear(p) = scale_columns(dense_linear(*L.linear(p), linear_name(l, p)), L.ffn_norm);
    L.attn_norm = ones_like(L.attn_norm);
    L.ffn_norm = ones_like(L.ffn_norm);
  }
  m.lm_head = scale_columns(head, m.final_norm);  // a new tensor: the embedding is no longer shared
  m.cfg.tie_embeddings = false;
  m.final_norm = ones_like(m.final_norm);
}

}  // namespace hessq::transforms
