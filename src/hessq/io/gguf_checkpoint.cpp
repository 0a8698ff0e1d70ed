#include "hessq/io/gguf_checkpoint.hpp"

#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "hessq/core/error.hpp"
#include "hessq/io/ggml_dequant.hpp"
#include "hessq/model/layout.hpp"

namespace hessq::io {

namespace {

int int_key(const GgufFile& g, const std::string& key) {
  const int64_t v = g.get_i64(key);
  HESSQ_CHECK(v > 0 && v <= std::numeric_limits<int>::max(), "{}: {} = {} is out of range", g.path(), key, v);
  return static_cast<int>(v);
}

// An f32 metadata value as the decimal it was written from (1e-5, not 9.99999974737875e-06): the
// shortest decimal that reads back as the same float.
double shortest_decimal(float v) { return std::stod(fmt::format("{}", v)); }

// GGUF per-block tensor names (llama.cpp's LLM_TENSOR_NAMES) -> HF module names.
constexpr std::pair<const char*, const char*> kBlockNames[] = {
    {"attn_norm", "input_layernorm"},   {"ffn_norm", "post_attention_layernorm"},
    {"attn_q", "self_attn.q_proj"},     {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},     {"attn_output", "self_attn.o_proj"},
    {"ffn_gate", "mlp.gate_proj"},      {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},      {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
};

}  // namespace

model::ModelConfig gguf_model_config(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  HESSQ_CHECK(arch == "llama" || arch == "qwen2" || arch == "qwen3",
              "{}: general.architecture '{}' is not supported (hessq reads GGUF llama, qwen2 and qwen3 models)",
              g.path(), arch);
  const std::string p = arch + ".";
  model::ModelConfig cfg;
  cfg.arch = arch == "qwen2" ? model::Arch::Qwen2 : arch == "qwen3" ? model::Arch::Qwen3 : model::Arch::Llama;
  cfg.qkv_bias = g.find_tensor("blk.0.attn_q.bias") != nullptr;
  cfg.qk_norm = g.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  if (g.find_tensor("rope_freqs.weight")) {
    // A table of per-frequency divisors: hessq reads the Llama-3 rule it was made from when the file
    // records it (hessq's own exports, gguf_export.hpp); a bare table is refused.
    HESSQ_CHECK(g.has(kLlama3RopeKeys[0]),
                "{}: tensor 'rope_freqs.weight' (RoPE frequency factors) without {} is not supported", g.path(),
                kLlama3RopeKeys[0]);
    model::RopeScaling s;
    s.factor = shortest_decimal(g.get_f32(kLlama3RopeKeys[0]));
    s.low_freq_factor = shortest_decimal(g.get_f32(kLlama3RopeKeys[1]));
    s.high_freq_factor = shortest_decimal(g.get_f32(kLlama3RopeKeys[2]));
    s.original_max_position = int_key(g, kLlama3RopeKeys[3]);
    cfg.rope_scaling = s;
  }
  cfg.dim = int_key(g, p + "embedding_length");
  cfg.hidden_dim = int_key(g, p + "feed_forward_length");
  cfg.n_layers = int_key(g, p + "block_count");
  cfg.n_heads = int_key(g, p + "attention.head_count");
  cfg.n_kv_heads = g.has(p + "attention.head_count_kv") ? int_key(g, p + "attention.head_count_kv") : cfg.n_heads;
  if (g.has(p + "attention.key_length")) {
    cfg.head_dim = int_key(g, p + "attention.key_length");
  } else {
    HESSQ_CHECK(cfg.dim % cfg.n_heads == 0, "{}: {}embedding_length {} is not a multiple of {}attention.head_count {}",
                g.path(), p, cfg.dim, p, cfg.n_heads);
    cfg.head_dim = cfg.dim / cfg.n_heads;
  }
  if (g.has(p + "attention.value_length"))
    HESSQ_CHECK(int_key(g, p + "attention.value_length") == cfg.head_dim,
                "{}: {}attention.value_length differs from the key length {} (not supported)", g.path(), p,
                cfg.head_dim);
  cfg.max_seq_len = int_key(g, p + "context_length");
  cfg.rope_theta = shortest_decimal(g.find_f32(p + "rope.freq_base").value_or(10000.f));
  cfg.norm_eps = shortest_decimal(g.get_f32(p + "attention.layer_norm_rms_epsilon"));
  if (auto scaling = g.find_string(p + "rope.scaling.type"))
    HESSQ_CHECK(*scaling == "none", "{}: {}rope.scaling.type '{}' is not supported", g.path(), p, *scaling);
  if (g.has(p + "rope.dimension_count"))
    HESSQ_CHECK(int_key(g, p + "rope.dimension_count") == cfg.head_dim,
                "{}: {}rope.dimension_count {} differs from the head dimension {} (partial RoPE is not supported)",
                g.path(), p, g.get_i64(p + "rope.dimension_count"), cfg.head_dim);
  const GgufTensorInfo& emb = g.tensor("token_embd.weight");
  HESSQ_CHECK(emb.shape.size() == 2 && emb.shape[0] <= std::numeric_limits<int>::max(),
              "{}: tensor 'token_embd.weight' has shape of rank {}, expected [vocab, dim]", g.path(), emb.shape.size());
  cfg.vocab_size = g.has(p + "vocab_size") ? int_key(g, p + "vocab_size") : static_cast<int>(emb.shape[0]);
  cfg.tie_embeddings = g.find_tensor("output.weight") == nullptr;
  // llama: llama.cpp's permutation of q/k rows (see the header); qwen2/qwen3 run NeoX RoPE on HF's rows.
  cfg.rope_style = arch == "llama" ? model::RopeStyle::Interleaved : model::RopeStyle::Half;
  if (auto v = g.find_u32("tokenizer.ggml.bos_token_id")) cfg.bos_id = static_cast<int>(*v);
  if (auto v = g.find_u32("tokenizer.ggml.eos_token_id")) cfg.eos_id = static_cast<int>(*v);
  cfg.validate(g.path());
  return cfg;
}

std::string gguf_to_hf_name(const std::string& name, const std::string& file) {
  if (name == "token_embd.weight") return "model.embed_tokens.weight";
  if (name == "output_norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  if (name.starts_with("blk.")) {
    const size_t dot = name.find('.', 4);
    int layer = -1;
    if (dot != std::string::npos) {
      auto [ptr, ec] = std::from_chars(name.data() + 4, name.data() + dot, layer);
      if (ec != std::errc() || ptr != name.data() + dot) layer = -1;
    }
    if (layer >= 0) {
      const std::string rest = name.substr(dot + 1);  // "attn_q.weight"
      const size_t suffix = rest.rfind('.');
      const std::string module = rest.substr(0, suffix), kind = suffix == std::string::npos ? "" : rest.substr(suffix);
      for (const auto& [gguf, hf] : kBlockNames)
        if (module == gguf && (kind == ".weight" || kind == ".bias"))
          return "model.layers." + std::to_string(layer) + "." + hf + kind;
    }
  }
  HESSQ_FAIL("{}: tensor '{}' has no HF counterpart hessq knows (expected token_embd, output_norm, output, "
             "blk.N.{{attn_norm,attn_q,attn_k,attn_v,attn_output,ffn_norm,ffn_gate,ffn_up,ffn_down}})",
             file, name);
}

std::string hf_to_gguf_name(const std::string& hf_name) {
  if (hf_name == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf_name == "model.norm.weight") return "output_norm.weight";
  if (hf_name == "lm_head.weight") return "output.weight";
  const std::string prefix = "model.layers.";
  if (hf_name.starts_with(prefix)) {
    const size_t dot = hf_name.find('.', prefix.size());
    const size_t suffix = hf_name.rfind('.');
    if (dot != std::string::npos && suffix > dot) {
      const std::string module = hf_name.substr(dot + 1, suffix - dot - 1);
      for (const auto& [gguf, hf] : kBlockNames)
        if (module == hf) return "blk." + hf_name.substr(prefix.size(), dot - prefix.size()) + "." + gguf +
                                 hf_name.substr(suffix);
    }
  }
  HESSQ_FAIL("tensor '{}' has no GGUF name (expected an embedding, norm, head or block projection)", hf_name);
}

std::map<std::string, StoredTensor> gguf_stored_tensors(const GgufFile& g) {
  std::map<std::string, StoredTensor> out;
  for (const GgufTensorInfo& info : g.tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // RoPE factors: the config holds their rule
    const std::string hf = gguf_to_hf_name(info.name, g.path());
    require_ggml_dequantizable(info.type, g.path(), info.name);
    HESSQ_CHECK(!out.count(hf), "{}: tensors '{}' and another both map to {}", g.path(), info.name, hf);
    out.emplace(hf, g.stored(info.name, hf));
  }
  return out;
}

}  // namespace hessq::io
