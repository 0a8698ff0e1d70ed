#include "hessq/model/model.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/model/quantized_linear.hpp"
#include "hessq/model/layout.hpp"

namespace hessq::model {

std::shared_ptr<Linear>& LayerWeights::linear(Proj p) {
  switch (p) {
    case Proj::Q: return q;
    case Proj::K: return k;
    case Proj::V: return v;
    case Proj::O: return o;
    case Proj::Gate: return gate;
    case Proj::Up: return up;
    case Proj::Down: return down;
  }
  HESSQ_FAIL("unknown projection");
}

const Linear& LayerWeights::linear(Proj p) const {
  return *const_cast<LayerWeights*>(this)->linear(p);
}

std::string layer_tensor_name(int layer, const std::string& suffix) {
  return "model.layers." + std::to_string(layer) + "." + suffix;
}

std::vector<TensorSpec> checkpoint_layout(const ModelConfig& c) {
  std::vector<TensorSpec> specs;
  specs.push_back({"model.embed_tokens.weight", {c.vocab_size, c.dim}});
  for (int l = 0; l < c.n_layers; ++l) {
    specs.push_back({layer_tensor_name(l, "input_layernorm.weight"), {c.dim}});
    for (Proj p : kAllProjs) {
      const auto [m, n] = proj_shape(c, p);
      specs.push_back({linear_name(l, p) + ".weight", {m, n}});
      if (proj_has_bias(c, p)) specs.push_back({linear_name(l, p) + ".bias", {m}});
    }
    if (c.qk_norm) {
      specs.push_back({layer_tensor_name(l, "self_attn.q_norm.weight"), {c.head_dim}});
      specs.push_back({layer_tensor_name(l, "self_attn.k_norm.weight"), {c.head_dim}});
    }
    specs.push_back({layer_tensor_name(l, "post_attention_layernorm.weight"), {c.dim}});
  }
  specs.push_back({"model.norm.weight", {c.dim}});
  if (!c.tie_embeddings) specs.push_back({"lm_head.weight", {c.vocab_size, c.dim}});
  return specs;
}

static void check_finite(const Tensor& t, const std::string& name, const std::string& source) {
  const float* p = t.ptr();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i)
    HESSQ_CHECK(std::isfinite(p[i]), "{}: tensor {} has a non-finite value ({}) at flat index {}", source, name,
                p[i], i);
}

// Tensors some exporters add that carry no weights (recomputed at run time).
static bool is_ignorable(const std::string& name, const ModelConfig& c) {
  if (name.ends_with("rotary_emb.inv_freq")) return true;
  return c.tie_embeddings && name == "lm_head.weight";  // a tied head saved anyway: the embedding wins
}

void check_layout(const ModelConfig& cfg, const std::map<std::string, Shape>& shapes, const std::string& source) {
  cfg.validate(source);
  std::set<std::string> expected;
  for (const TensorSpec& spec : checkpoint_layout(cfg)) {
    auto it = shapes.find(spec.name);
    HESSQ_CHECK(it != shapes.end(), "{}: missing tensor {} (expected shape {})", source, spec.name,
                shape_str(spec.shape));
    HESSQ_CHECK(it->second == spec.shape, "{}: tensor {} has shape {}, expected {}", source, spec.name,
                shape_str(it->second), shape_str(spec.shape));
    expected.insert(spec.name);
  }
  for (const auto& [name, shape] : shapes) {
    if (expected.count(name)) continue;
    HESSQ_CHECK(is_ignorable(name, cfg), "{}: unexpected tensor {} {} (not part of a {} model with this config)",
                source, name, shape_str(shape), arch_name(cfg.arch));
    spdlog::warn("{}: ignoring tensor {}", source, name);
  }
}

LayerWeights build_layer(const ModelConfig& cfg, int l, const std::function<Tensor(const std::string&)>& get,
                         const PrebuiltLinears& prebuilt) {
  LayerWeights L;
  auto layer_get = [&](const std::string& suffix) { return get(layer_tensor_name(l, suffix)); };
  L.attn_norm = layer_get("input_layernorm.weight");
  L.ffn_norm = layer_get("post_attention_layernorm.weight");
  if (cfg.qk_norm) {
    L.q_norm = layer_get("self_attn.q_norm.weight");
    L.k_norm = layer_get("self_attn.k_norm.weight");
  }
  for (Proj p : kAllProjs) {
    if (auto it = prebuilt.find(layer_tensor_name(l, proj_module(p))); it != prebuilt.end()) {
      L.linear(p) = it->second;
      continue;
    }
    std::optional<Tensor> bias;
    if (proj_has_bias(cfg, p)) bias = layer_get(proj_module(p) + ".bias");
    L.linear(p) = std::make_shared<DenseLinear>(layer_get(proj_module(p) + ".weight"), bias);
  }
  return L;
}

Model build_model(const ModelConfig& cfg, TensorMap tensors, const std::string& source,
                  const PrebuiltLinears& prebuilt) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : tensors) shapes.emplace(name, t.shape);
  for (const auto& [module, lin] : prebuilt) {
    HESSQ_CHECK(!tensors.count(module + ".weight"), "{}: {} is given both as a tensor and as a built linear", source,
                module + ".weight");
    if (module == "lm_head" && cfg.tie_embeddings) continue;  // a tied model has no lm_head tensor
    shapes.emplace(module + ".weight", Shape{lin->out_features(), lin->in_features()});
  }
  check_layout(cfg, shapes, source);
  auto get = [&](const std::string& name) -> Tensor {
    const Tensor& t = tensors.at(name);
    check_finite(t, name, source);
    return t;
  };
  Model m;
  m.cfg = cfg;
  m.source = source;
  m.final_norm = get("model.norm.weight");
  if (auto it = prebuilt.find("model.embed_tokens"); it != prebuilt.end()) {
    m.tok_emb_q = std::dynamic_pointer_cast<const QuantizedLinear>(it->second);
    HESSQ_CHECK(m.tok_emb_q != nullptr, "{}: model.embed_tokens must be a quantized linear", source);
    if (cfg.tie_embeddings) m.lm_head = it->second;
  } else {
    m.tok_emb = get("model.embed_tokens.weight");
    if (cfg.tie_embeddings) m.lm_head = std::make_shared<DenseLinear>(m.tok_emb);
  }
  if (auto it = prebuilt.find("lm_head"); it != prebuilt.end()) m.lm_head = it->second;
  else if (!cfg.tie_embeddings) m.lm_head = std::make_shared<DenseLinear>(get("lm_head.weight"));
  for (int l = 0; l < cfg.n_layers; ++l) m.layers.push_back(build_layer(cfg, l, get, prebuilt));
  return m;
}

void embedding_row(const Model& m, int token, float* out) {
  if (m.tok_emb_q) return m.tok_emb_q->dequantize_row(token, out);
  const int64_t d = m.tok_emb.cols();
  std::copy(m.tok_emb.ptr() + token * d, m.tok_emb.ptr() + (token + 1) * d, out);
}

static const DenseLinear& dense(const Linear& lin, const std::string& name) {
  auto* d = dynamic_cast<const DenseLinear*>(&lin);
  HESSQ_CHECK(d != nullptr, "{} is not a dense float linear", name);
  return *d;
}

TensorMap model_tensors(const Model& m) {
  const ModelConfig& c = m.cfg;
  TensorMap t;
  t["model.embed_tokens.weight"] = m.tok_emb;
  t["model.norm.weight"] = m.final_norm;
  if (!c.tie_embeddings) t["lm_head.weight"] = dense(*m.lm_head, "lm_head").weight();
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = m.layers[l];
    t[layer_tensor_name(l, "input_layernorm.weight")] = L.attn_norm;
    t[layer_tensor_name(l, "post_attention_layernorm.weight")] = L.ffn_norm;
    if (c.qk_norm) {
      t[layer_tensor_name(l, "self_attn.q_norm.weight")] = L.q_norm;
      t[layer_tensor_name(l, "self_attn.k_norm.weight")] = L.k_norm;
    }
    for (Proj p : kAllProjs) {
      const std::string name = linear_name(l, p);
      const DenseLinear& d = dense(L.linear(p), name);
      t[name + ".weight"] = d.weight();
      if (d.bias()) t[name + ".bias"] = *d.bias();
    }
  }
  return t;
}

}  // namespace hessq::model
