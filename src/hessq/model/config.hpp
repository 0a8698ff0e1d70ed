// ModelConfig: the hyperparameters of a Llama-family decoder (Llama 2/3, Mistral, Qwen2/2.5, Qwen3,
// SmolLM), whatever checkpoint format they came from.
#pragma once
#include <optional>
#include <string>

namespace hessq::model {

enum class Arch { Llama, Mistral, Qwen2, Qwen3 };

// How RoPE pairs dimensions within a head: llama2.c rotates interleaved pairs (2i, 2i+1);
// HuggingFace rotates halves (i, i + head_dim/2) ("rotate_half").
enum class RopeStyle { Interleaved, Half };

// Llama-3 style frequency scaling ("rope_type": "llama3").
struct RopeScaling {
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int original_max_position = 8192;
};

struct ModelConfig {
  Arch arch = Arch::Llama;
  int dim = 0;          // hidden size
  int hidden_dim = 0;   // MLP intermediate size
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;     // usually dim / n_heads; explicit for Qwen3
  int vocab_size = 0;
  int max_seq_len = 0;
  double rope_theta = 10000.0;
  std::optional<RopeScaling> rope_scaling;
  double norm_eps = 1e-5;
  bool tie_embeddings = false;
  bool qkv_bias = false;  // Qwen2: q/k/v projections carry a bias
  bool qk_norm = false;   // Qwen3: RMSNorm over each head of q and k
  RopeStyle rope_style = RopeStyle::Half;
  int bos_id = 1;
  int eos_id = 2;

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
  void validate(const std::string& source) const;  // throws hessq::Error naming `source`
};

const char* arch_name(Arch a);                       // "llama", "qwen3", ...
const char* hf_architecture(Arch a);                 // "LlamaForCausalLM", ...
std::optional<Arch> arch_from_hf(const std::string& architecture);

}  // namespace hessq::model
