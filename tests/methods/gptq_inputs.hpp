// Seeded inputs for the block-grid GPTQ tests (MXFP4, NVFP4, ggml types): uniform weights and the H
// of inputs with correlated channels, the case where error feedback pays.
#pragma once
#include <cstdint>

#include "hessq/core/random.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::methods::test {

inline MatF seeded(Eigen::Index r, Eigen::Index c, uint64_t seed) {  // splitmix64 -> uniform [-1, 1)
  MatF M(r, c);
  for (Eigen::Index i = 0; i < M.size(); ++i)
    M.data()[i] = static_cast<float>(static_cast<double>(splitmix64(seed)) / 9.223372036854775808e18 - 1.0);
  return M;
}

// H = X^T X / N of inputs with a shared low-dimensional component, as real activations have.
inline linalg::Mat correlated_hessian(int64_t n, int64_t N, uint64_t seed) {
  const MatF Z = seeded(N, 8, seed), P = seeded(8, n, seed + 1), E = seeded(N, n, seed + 2);
  const MatF X = Z * P * 3.0f + E * 0.3f;
  return (X.cast<double>().transpose() * X.cast<double>()) / static_cast<double>(N);
}

}  // namespace hessq::methods::test
