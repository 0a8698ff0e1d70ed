#include "hessq/transforms/fold_norms.hpp"

#include <algorithm>
#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/model/layout.hpp"

namespace hessq::transforms {

const model::DenseLinear& dense_linear(const model::Linear& lin, const std::string& name) {
  auto* d = dynamic_cast<const model::DenseLinear*>(&lin);
  HESSQ_CHECK(d != nullptr, "{} is not a dense float linear (transforms run on the float model, before quantization)",
              name);
  return *d;
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

void fold_layer_norms(model::LayerWeights& L, int l) {
  using model::Proj;
  for (Proj p : {Proj::Q, Proj::K, Proj::V, Proj::Gate, Proj::Up}) dense_linear(*L.linear(p), linear_name(l, p));
  for (Proj p : {Proj::Q, Proj::K, Proj::V})
    L.linear(p) = scale_columns(dense_linear(*L.linear(p), linear_name(l, p)), L.attn_norm);
  for (Proj p : {Proj::Gate, Proj::Up})
    L.linear(p) = scale_columns(dense_linear(*L.linear(p), linear_name(l, p)), L.ffn_norm);
  L.attn_norm = ones_like(L.attn_norm);
  L.ffn_norm = ones_like(L.ffn_norm);
}

void scale_norm_readers(model::LayerWeights& L, int l, model::InputKind which, const Tensor& d) {
  HESSQ_CHECK(which == model::InputKind::Attn || which == model::InputKind::Mlp,
              "scale_norm_readers: only the two block norms (input_layernorm, post_attention_layernorm) have readers "
              "to scale");
  const bool attn = which == model::InputKind::Attn;
  Tensor& norm = attn ? L.attn_norm : L.ffn_norm;
  const std::string norm_name = model::layer_tensor_name(l, attn ? "input_layernorm.weight" : "post_attention_layernorm.weight");
  HESSQ_CHECK(d.numel() == norm.numel(), "{}: a scaling of {} values for a norm of {}", norm_name, d.numel(), norm.numel());
  for (int64_t j = 0; j < d.numel(); ++j)
    HESSQ_CHECK(std::isfinite(d.ptr()[j]) && d.ptr()[j] > 0, "{}: scaling d[{}] = {} must be finite and > 0", norm_name,
                j, d.ptr()[j]);
  const std::vector<model::Proj>& readers = model::projs_reading(which);
  for (model::Proj p : readers) dense_linear(*L.linear(p), linear_name(l, p));
  for (model::Proj p : readers) L.linear(p) = scale_columns(dense_linear(*L.linear(p), linear_name(l, p)), d);
  Tensor w = Tensor::zeros(norm.shape);
  for (int64_t j = 0; j < norm.numel(); ++j) w.ptr()[j] = norm.ptr()[j] / d.ptr()[j];
  norm = std::move(w);
}

Tensor fold_head_norm(const Tensor& head, const Tensor& final_norm) {
  const model::DenseLinear d(head);
  return std::static_pointer_cast<model::DenseLinear>(scale_columns(d, final_norm))->weight();
}

Tensor ones_like_norm(const Tensor& norm) { return ones_like(norm); }

void fold_norms(model::Model& m) {
  using model::Proj;
  // Check every consumer first, so a failure leaves the model as it was.
  for (int l = 0; l < m.cfg.n_layers; ++l)
    for (Proj p : {Proj::Q, Proj::K, Proj::V, Proj::Gate, Proj::Up})
      dense_linear(*m.layers[l].linear(p), linear_name(l, p));
  const model::DenseLinear& head = dense_linear(*m.lm_head, "lm_head");
  for (int l = 0; l < m.cfg.n_layers; ++l) fold_layer_norms(m.layers[l], l);
  // A new tensor: the embedding is no longer shared.
  m.lm_head = std::make_shared<model::DenseLinear>(fold_head_norm(head.weight(), m.final_norm), head.bias());
  m.cfg.tie_embeddings = false;
  m.final_norm = ones_like(m.final_norm);
}

}  // namespace hessq::transforms
