#include "hessq/core/random.hpp"
#include "hessq/runtime/sampler.hpp"

#include <algorithm>
#include <cmath>

#include "hessq/core/error.hpp"

namespace hessq::runtime {

Sampler::Sampler(const SamplerOptions& opt) : opt_(opt), state_(opt.seed) {
  HESSQ_CHECK(opt.temperature >= 0.0f, "--temperature must be >= 0, got {}", opt.temperature);
  HESSQ_CHECK(opt.top_p > 0.0f && opt.top_p <= 1.0f, "--top-p must be in (0, 1], got {}", opt.top_p);
}

// splitmix64: a fixed, portable generator, so sampled text does not depend on the standard library.
double Sampler::uniform() { return uniform01(state_); }

int Sampler::sample(const float* logits, int V) {
  if (opt_.temperature == 0.0f) return static_cast<int>(std::max_element(logits, logits + V) - logits);
  const float mx = *std::max_element(logits, logits + V);
  probs_.resize(V);
  double sum = 0;
  for (int i = 0; i < V; ++i) {
    const float p = std::exp((logits[i] - mx) / opt_.temperature);
    probs_[i] = {p, i};
    sum += p;
  }
  // Sort by probability (ties by id) and keep the nucleus.
  std::sort(probs_.begin(), probs_.end(), [](auto a, auto b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  double kept = 0;
  size_t n = 0;
  while (n < probs_.size() && (n == 0 || kept < opt_.top_p * sum)) kept += probs_[n++].first;
  double r = uniform() * kept;
  for (size_t i = 0; i < n; ++i) {
    r -= probs_[i].first;
    if (r < 0) return probs_[i].second;
  }
  return probs_[n - 1].second;
}

}  // namespace hessq::runtime
