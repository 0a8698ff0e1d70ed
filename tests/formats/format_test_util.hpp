// Seeded test data for the formats tests: a splitmix64 stream (portable, no std:: distributions).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "hessq/core/random.hpp"

namespace hessq::formats::test {

using hessq::uniform01;

// Gaussian-like values (Box-Muller) with ~1% outliers 20..100x larger, a few exact zeros, and some
// rows scaled down by 2^-8 so per-row scales differ widely, as in LLM weights and activations.
inline std::vector<float> random_matrix(int64_t rows, int64_t cols, uint64_t seed) {
  std::vector<float> x(static_cast<size_t>(rows * cols));
  uint64_t s = seed;
  for (int64_t r = 0; r < rows; ++r) {
    const double row_scale = (r % 7 == 3) ? 1.0 / 256 : 1.0;
    for (int64_t c = 0; c < cols; ++c) {
      const double u1 = uniform01(s) + 0x1.0p-54, u2 = uniform01(s);
      double v = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      const double o = uniform01(s);
      if (o < 0.01) v *= 20.0 + 80.0 * uniform01(s);
      else if (o < 0.015) v = 0.0;
      x[static_cast<size_t>(r * cols + c)] = static_cast<float>(v * row_scale);
    }
  }
  return x;
}

}  // namespace hessq::formats::test
