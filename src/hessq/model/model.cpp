#include "hessq/model/model.hpp"

#include <cmath>
#include <set>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"

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

static std::string proj_prefix(Proj p) {
  bool attn = p == Proj::Q || p == Proj::K || p == Proj::V || p == Proj::O;
  return std::string(attn ? "self_attn." : "mlp.") + proj_name(p);
}

static Shape proj_shape(const ModelConfig& c, Proj p) {
  const int64_t d = c.dim, h = c.hidden_dim, q = c.q_dim(), kv = c.kv_dim();
  switch (p) {
    case Proj::Q: return {q, d};
    case Proj::K:
    case Proj::V: return {kv, d};
    case Proj::O: return {d, q};
    case Proj::Gate:
    case Proj::Up: return {h, d};
    case Proj::Down: return {d, h};
  }
  return {};
}

std::vector<TensorSpec> checkpoint_layout(const ModelConfig& c) {
  std::vector<TensorSpec> specs;
  specs.push_back({"model.embed_tokens.weight", {c.vocab_size, c.dim}});
  for (int l = 0; l < c.n_layers; ++l) {
    specs.push_back({layer_tensor_name(l, "input_layernorm.weight"), {c.dim}});
    for (Proj p : kAllProjs) {
      Shape s = proj_shape(c, p);
      specs.push_back({layer_tensor_name(l, proj_prefix(p) + ".weight"), s});
      if (c.qkv_bias && (p == Proj::Q || p == Proj::K || p == Proj::V))
        specs.push_back({layer_tensor_name(l, proj_prefix(p) + ".bias"), {s[0]}});
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

Model build_model(const ModelConfig& cfg, TensorMap tensors, const std::string& source) {
  cfg.validate(source);
  std::set<std::string> expected;
  for (const TensorSpec& spec : checkpoint_layout(cfg)) {
    auto it = tensors.find(spec.name);
    HESSQ_CHECK(it != tensors.end(), "{}: missing tensor {} (expected shape {})", source, spec.name,
                shape_str(spec.shape));
    HESSQ_CHECK(it->second.shape == spec.shape, "{}: tensor {} has shape {}, expected {}", source, spec.name,
                shape_str(it->second.shape), shape_str(spec.shape));
    check_finite(it->second, spec.name, source);
    expected.insert(spec.name);
  }
  for (const auto& [name, t] : tensors) {
    if (expected.count(name)) continue;
    HESSQ_CHECK(is_ignorable(name, cfg), "{}: unexpected tensor {} {} (not part of a {} model with this config)",
                source, name, shape_str(t.shape), arch_name(cfg.arch));
    spdlog::warn("{}: ignoring tensor {}", source, name);
  }

  Model m;
  m.cfg = cfg;
  m.source = source;
  m.tok_emb = tensors.at("model.embed_tokens.weight");
  m.final_norm = tensors.at("model.norm.weight");
  m.lm_head = std::make_shared<DenseLinear>(cfg.tie_embeddings ? m.tok_emb : tensors.at("lm_head.weight"));
  for (int l = 0; l < cfg.n_layers; ++l) {
    LayerWeights L;
    auto get = [&](const std::string& suffix) { return tensors.at(layer_tensor_name(l, suffix)); };
    L.attn_norm = get("input_layernorm.weight");
    L.ffn_norm = get("post_attention_layernorm.weight");
    if (cfg.qk_norm) {
      L.q_norm = get("self_attn.q_norm.weight");
      L.k_norm = get("self_attn.k_norm.weight");
    }
    for (Proj p : kAllProjs) {
      std::optional<Tensor> bias;
      if (cfg.qkv_bias && (p == Proj::Q || p == Proj::K || p == Proj::V)) bias = get(proj_prefix(p) + ".bias");
      L.linear(p) = std::make_shared<DenseLinear>(get(proj_prefix(p) + ".weight"), bias);
    }
    m.layers.push_back(std::move(L));
  }
  return m;
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
      const std::string name = layer_tensor_name(l, proj_prefix(p));
      const DenseLinear& d = dense(L.linear(p), name);
      t[name + ".weight"] = d.weight();
      if (d.bias()) t[name + ".bias"] = *d.bias();
    }
  }
  return t;
}

}  // namespace hessq::model
