// One decoder block's forward pass, the unit both the Transformer (all blocks, KV cache) and the
// quantization pipeline (one block at a time over stored hidden states) run:
//   x += o_proj(attention(rope(q_norm(q)), rope(k_norm(k)), v)),  q/k/v = proj(RMSNorm(x))
//   x += down(silu(gate(h)) * up(h)),                              h = RMSNorm(x)
// Every buffer is sized to what the call needs: the KV cache of a layer grows with the positions
// actually run (not max_position_embeddings), the RoPE table with the largest position seen.
#pragma once
#include <functional>
#include <vector>

#include "hessq/model/forward_profile.hpp"
#include "hessq/model/model.hpp"

namespace hessq::model {

// Called with the input of every block linear just before it runs: x is [n_tokens, in_features].
using LinearHook = std::function<void(const LinearId& id, const float* x, int n_tokens)>;

// cos/sin of position * inv_freq for positions [0, positions()), [positions, head_dim / 2].
class RopeTable {
 public:
  explicit RopeTable(const ModelConfig& cfg);
  void ensure(int positions);  // extends the table to at least `positions` positions
  int positions() const { return positions_; }
  const float* cos_at(int pos) const { return &cos_[static_cast<size_t>(pos) * half_]; }
  const float* sin_at(int pos) const { return &sin_[static_cast<size_t>(pos) * half_]; }

 private:
  std::vector<double> inv_freq_;
  int half_ = 0, positions_ = 0;
  std::vector<float> cos_, sin_;
};

// One layer's keys and values, [positions, kv_dim] each, grown as positions are appended.
struct LayerCache {
  std::vector<float> k, v;
  void clear() { k.clear(), v.clear(); }
};

// Scratch for block_forward, resized per call (reused across calls to avoid reallocation), and
// where block_forward adds its time per part when `profile` is set.
struct BlockScratch {
  std::vector<float> xb, q, k, v, att, hb, hb2, scores;
  ForwardProfile* profile = nullptr;
};

// Runs block `L` (index `layer`, for hooks) on x [n, dim] in place, for tokens at positions
// pos .. pos + n - 1 attending to cache positions [0, pos + t]; appends their keys and values to
// `cache` (which must hold exactly `pos` positions). `hook` may be empty.
void block_forward(const ModelConfig& c, const LayerWeights& L, int layer, float* x, int n, int pos, LayerCache& cache,
                   RopeTable& rope, BlockScratch& s, const LinearHook& hook);

// out = x / rms(x) * w over `rows` rows of length d (accumulated in double).
void rms_norm(float* out, const float* x, const float* w, int rows, int d, double eps);

// Per-dimension RoPE inverse frequencies [head_dim/2], with Llama-3 scaling when configured.
std::vector<double> rope_inv_freq(const ModelConfig& cfg);

}  // namespace hessq::model
