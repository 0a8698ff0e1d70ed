// Seeded small layer problems for the layer-wise method tests (m = 64 outputs, n = 128 inputs):
// a weight ~ N(0, 1/n) and activations ~ N(0, 1) with a few outlier channels, drawn from splitmix64
// streams so every run sees the same numbers.
#pragma once
#include <cmath>
#include <cstdint>

#include "hessq/core/random.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::test {

inline methods::MatF gaussian(int64_t rows, int64_t cols, uint64_t seed, double sigma = 1.0) {
  methods::MatF M(rows, cols);
  uint64_t s = seed;
  for (Eigen::Index i = 0; i < M.size(); ++i) {
    const double u1 = uniform01(s) + 0x1.0p-54, u2 = uniform01(s);
    M.data()[i] = static_cast<float>(sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2));
  }
  return M;
}

struct LayerProblem {
  methods::MatF W;        // [m, n]
  methods::MatF X_calib;  // [N, n]
  methods::MatF X_eval;   // [N_eval, n]
};

// Outlier channels 3, 40 and 77 scaled by 25 (a typical LLM activation pattern).
inline LayerProblem layer_problem(uint64_t seed = 1, int64_t m = 64, int64_t n = 128, int64_t N = 512,
                                  int64_t N_eval = 256) {
  LayerProblem p;
  p.W = gaussian(m, n, seed * 7 + 1, 1.0 / std::sqrt(static_cast<double>(n)));
  p.X_calib = gaussian(N, n, seed * 7 + 2);
  p.X_eval = gaussian(N_eval, n, seed * 7 + 3);
  for (int j : {3, 40, 77})
    if (j < n) {
      p.X_calib.col(j) *= 25.0f;
      p.X_eval.col(j) *= 25.0f;
    }
  return p;
}

}  // namespace hessq::test
