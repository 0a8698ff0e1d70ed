// Where a forward pass spends its time: wall seconds per part, summed over calls, for benchmarks
// (bench/bench_forward). Filled only when a Transformer is given one (Transformer::set_profile);
// otherwise each part costs one null check.
#pragma once
#include <chrono>

namespace hessq::model {

struct ForwardProfile {
  enum Part {
    Embedding,    // token rows copied from the embedding table
    Linears,      // the block linears (q, k, v, o, gate, up, down)
    Attention,    // scores, softmax and the weighted sum over the KV cache
    RopeCache,    // RoPE on q and k, keys and values appended to the cache
    Norms,        // every RMSNorm (block inputs, q/k norms, final norm)
    Elementwise,  // residual adds, SiLU(gate) * up
    Head,         // the output head (logits)
    kParts
  };
  static constexpr const char* kNames[kParts] = {"embedding", "linears", "attention", "rope_cache",
                                                 "norms",     "elementwise", "head"};
  double seconds[kParts] = {};
  void clear() { *this = ForwardProfile{}; }
};

// Adds the wall time of its scope to profile->seconds[part] (nothing when profile is null).
class ProfileScope {
 public:
  ProfileScope(ForwardProfile* profile, ForwardProfile::Part part) : profile_(profile), part_(part) {
    if (profile_) start_ = std::chrono::steady_clock::now();
  }
  ~ProfileScope() {
    if (profile_)
      profile_->seconds[part_] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  ForwardProfile* profile_;
  ForwardProfile::Part part_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace hessq::model
