// Transformer: the forward pass of a Llama-family decoder with a KV cache, block by block
// (model/block_forward.hpp). One code path serves prefill (many tokens per call, GEMM) and decode
// (one token per call, GEMV).
#pragma once
#include <vector>

#include "hessq/model/block_forward.hpp"
#include "hessq/model/model.hpp"

namespace hessq::model {

class Transformer {
 public:
  // Positions up to `max_ctx` (0: the model's max_seq_len) may be run; the KV cache and RoPE table
  // grow with the positions actually used. `model` must outlive this object.
  explicit Transformer(const Model& model, int max_ctx = 0);

  void reset();
  int pos() const { return pos_; }
  int max_ctx() const { return max_ctx_; }
  void set_hook(LinearHook hook) { hook_ = std::move(hook); }
  // Calibration: forward() runs blocks 0..layer only (still filling their KV cache) and returns
  // nullptr instead of logits. -1 (the default) runs the whole model.
  void set_stop_after(int layer) { stop_after_ = layer; }
  // Benchmarks: forward() adds its wall time per part to `profile` (null: off). `profile` must
  // outlive its use.
  void set_profile(ForwardProfile* profile) { scratch_.profile = profile; }

  // Runs tokens[0..n) at positions pos()..pos()+n-1 and appends them to the cache. Returns logits,
  // [n, vocab] if all_logits else [1, vocab] for the last token; valid until the next call.
  const float* forward(const int* tokens, int n, bool all_logits);

 private:
  const Model& m_;
  int max_ctx_;
  int pos_ = 0;
  int stop_after_ = -1;
  LinearHook hook_;
  RopeTable rope_;
  std::vector<LayerCache> cache_;  // per layer
  BlockScratch scratch_;
  std::vector<float> x_, xb_, logits_;
};

}  // namespace hessq::model
