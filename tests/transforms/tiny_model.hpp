// Small seeded models for the transform tests: any shape, with non-trivial norm weights (synthetic
// checkpoints have all-ones norms, which would make folding a no-op) and optional Qwen2/Qwen3 parts.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "hessq/model/model.hpp"
#include "hessq/model/synth.hpp"
#include "hessq/model/transformer.hpp"

namespace hessq::test {

inline model::ModelConfig tiny_config(int dim, int hidden, int heads, int kv_heads, int head_dim,
                                      model::Arch arch = model::Arch::Llama, bool tie = false) {
  model::ModelConfig c;
  c.arch = arch;
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = 2;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.vocab_size = 64;
  c.max_seq_len = 32;
  c.tie_embeddings = tie;
  c.qkv_bias = arch == model::Arch::Qwen2;
  c.qk_norm = arch == model::Arch::Qwen3;
  c.bos_id = 1;
  c.eos_id = 2;
  return c;
}

// Seeded weights; every norm weight w_j = 1 + 0.5 sin(j + 7 * hash) so folding matters. Embeddings are
// scaled to std 1 so logits are of order 1-10 rather than 0.01.
inline TensorMap tiny_tensors(const model::ModelConfig& cfg, uint64_t seed) {
  TensorMap t = model::synth_tensors(cfg, seed);
  int salt = 0;
  for (auto& [name, tensor] : t) {
    ++salt;
    float* p = tensor.ptr();
    if (name.find("norm") != std::string::npos) {
      for (int64_t j = 0; j < tensor.numel(); ++j) p[j] = 1.0f + 0.5f * static_cast<float>(std::sin(j + 7.0 * salt));
    } else if (name == "model.embed_tokens.weight" || name == "lm_head.weight") {
      for (int64_t j = 0; j < tensor.numel(); ++j) p[j] *= 50.0f;
    }
  }
  return t;
}

inline model::Model tiny_model(const model::ModelConfig& cfg, uint64_t seed) {
  return model::build_model(cfg, tiny_tensors(cfg, seed), "tiny");
}

// All logits of `tokens` run as one prefill, [n, vocab].
inline std::vector<float> all_logits(const model::Model& m, const std::vector<int>& tokens) {
  model::Transformer tr(m, static_cast<int>(tokens.size()));
  const float* p = tr.forward(tokens.data(), static_cast<int>(tokens.size()), true);
  return std::vector<float>(p, p + tokens.size() * static_cast<size_t>(m.cfg.vocab_size));
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  return d;
}

}  // namespace hessq::test
