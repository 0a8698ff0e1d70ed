// Transformer: the forward pass of a Llama-family decoder with a KV cache. One code path serves
// prefill (many tokens per call, GEMM) and decode (one token per call, GEMV).
#pragma once
#include <functional>
#include <vector>

#include "hessq/model/model.hpp"

namespace hessq::model {

// Called with the input of every block linear just before it runs: x is [n_tokens, in_features].
using LinearHook = std::function<void(const LinearId& id, const float* x, int n_tokens)>;

class Transformer {
 public:
  // KV cache for `max_ctx` positions (0: the model's max_seq_len). `model` must outlive this object.
  explicit Transformer(const Model& model, int max_ctx = 0);

  void reset() { pos_ = 0; }
  int pos() const { return pos_; }
  int max_ctx() const { return max_ctx_; }
  void set_hook(LinearHook hook) { hook_ = std::move(hook); }
  // Calibration: forward() runs blocks 0..layer only (still filling their KV cache) and returns
  // nullptr instead of logits. -1 (the default) runs the whole model.
  void set_stop_after(int layer) { stop_after_ = layer; }

  // Runs tokens[0..n) at positions pos()..pos()+n-1 and appends them to the cache. Returns logits,
  // [n, vocab] if all_logits else [1, vocab] for the last token; valid until the next call.
  const float* forward(const int* tokens, int n, bool all_logits);

 private:
  void attention(int layer, int n);
  void run_linear(int layer, Proj p, const float* x, int n, float* y);
  void apply_rope(float* x, int n_heads_in_x, int n);

  const Model& m_;
  int max_ctx_;
  int pos_ = 0;
  int stop_after_ = -1;
  LinearHook hook_;
  std::vector<float> rope_cos_, rope_sin_;  // [max_ctx, head_dim/2]
  std::vector<float> k_cache_, v_cache_;    // [n_layers, max_ctx, kv_dim]
  // Scratch, sized for the current call.
  std::vector<float> x_, xb_, q_, k_, v_, att_, hb_, hb2_, scores_, logits_;
};

// Per-dimension RoPE inverse frequencies [head_dim/2], with Llama-3 scaling when configured.
std::vector<double> rope_inv_freq(const ModelConfig& cfg);

}  // namespace hessq::model
