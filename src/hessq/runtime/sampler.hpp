// Sampler: picks the next token from logits. temperature 0 is greedy (argmax, lowest id on ties);
// otherwise softmax(logits / temperature) restricted to the smallest set of tokens whose probability
// mass reaches top_p (nucleus sampling), drawn with a seeded generator: same seed, same tokens.
#pragma once
#include <cstdint>
#include <vector>

namespace hessq::runtime {

struct SamplerOptions {
  float temperature = 0.0f;
  float top_p = 1.0f;
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& opt);
  int sample(const float* logits, int V);

 private:
  double uniform();  // [0, 1), 53 bits
  SamplerOptions opt_;
  uint64_t state_;
  std::vector<std::pair<float, int>> probs_;
};

}  // namespace hessq::runtime
