#include "hessq/model/config.hpp"

#include "hessq/core/error.hpp"

namespace hessq::model {

void ModelConfig::validate(const std::string& source) const {
  HESSQ_CHECK(dim > 0 && hidden_dim > 0 && n_layers > 0 && n_heads > 0 && n_kv_heads > 0 && vocab_size > 0 &&
                  max_seq_len > 0 && head_dim > 0,
              "{}: invalid model config (dim={}, hidden_dim={}, n_layers={}, n_heads={}, n_kv_heads={}, "
              "head_dim={}, vocab_size={}, max_seq_len={}): all must be positive",
              source, dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size, max_seq_len);
  HESSQ_CHECK(n_heads % n_kv_heads == 0, "{}: n_heads={} is not a multiple of n_kv_heads={}", source, n_heads,
              n_kv_heads);
  HESSQ_CHECK(head_dim % 2 == 0, "{}: head_dim={} must be even for RoPE", source, head_dim);
  HESSQ_CHECK(norm_eps > 0 && rope_theta > 0, "{}: rms_norm_eps and rope_theta must be positive", source);
}

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Llama: return "llama";
    case Arch::Mistral: return "mistral";
    case Arch::Qwen2: return "qwen2";
    case Arch::Qwen3: return "qwen3";
  }
  return "?";
}

const char* hf_architecture(Arch a) {
  switch (a) {
    case Arch::Llama: return "LlamaForCausalLM";
    case Arch::Mistral: return "MistralForCausalLM";
    case Arch::Qwen2: return "Qwen2ForCausalLM";
    case Arch::Qwen3: return "Qwen3ForCausalLM";
  }
  return "?";
}

std::optional<Arch> arch_from_hf(const std::string& architecture) {
  for (Arch a : {Arch::Llama, Arch::Mistral, Arch::Qwen2, Arch::Qwen3})
    if (architecture == hf_architecture(a)) return a;
  return std::nullopt;
}

}  // namespace hessq::model
