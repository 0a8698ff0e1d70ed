// The seeded synthetic layer of bench_gptq and bench_osaq_premise: LLaMA-2-7B q_proj's shape
// (4096 x 4096), W ~ N(0, 1/n) with 1% of entries 8x, and a token source X = Z D + z u^T with D
// lognormal per-channel magnitudes, 32 near-dead channels (j % 128 == 5, magnitude 1e-3, outside the
// shared factor), and a shared rank-8 factor on the live channels, so H = X^T X / N is full rank,
// correlated, and has a small near-null space. One splitmix64 stream draws W, the magnitudes, the
// factor, then token rows in order: tokens(8192) first gives bench_gptq's calibration set, a second
// call a held-out set from the same distribution.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "hessq/core/random.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::bench {

class SyntheticLayer {
 public:
  static constexpr int64_t kN = 4096;
  static constexpr int kFactors = 8;

  explicit SyntheticLayer(uint64_t seed = 2024) : s_(seed) {
    W.resize(kN, kN);
    for (int64_t i = 0; i < W.size(); ++i)
      W.data()[i] = static_cast<float>((uniform01(s_) < 0.01 ? 8.0 : 1.0) * normal01(s_) / std::sqrt(double(kN)));
    d_.resize(kN);
    for (int64_t j = 0; j < kN; ++j) d_[j] = std::exp(0.5 * normal01(s_)) * (is_dead(j) ? 1e-3 : 1.0);
    U_.resize(kFactors, kN);
    for (int64_t i = 0; i < U_.size(); ++i) U_.data()[i] = static_cast<float>(normal01(s_));
  }

  static bool is_dead(int64_t j) { return j % 128 == 5; }

  // The next `count` token rows of the stream, [count, 4096].
  methods::MatF tokens(int64_t count) {
    methods::MatF X(count, kN);
    for (int64_t t = 0; t < count; ++t) {
      float z[kFactors];
      for (float& v : z) v = static_cast<float>(normal01(s_));
      for (int64_t j = 0; j < kN; ++j) {
        float shared = 0;
        for (int k = 0; k < kFactors; ++k) shared += z[k] * U_(k, j);
        X(t, j) = static_cast<float>(normal01(s_) * d_[j]) + (d_[j] < 0.01 ? 0.0f : 0.5f * shared);
      }
    }
    return X;
  }

  methods::MatF W;  // [4096, 4096]

 private:
  uint64_t s_;
  std::vector<double> d_;
  methods::MatF U_;  // [8, 4096] shared factor directions
};

}  // namespace hessq::bench
