// Seeded test vectors for the kernel tests: an LCG, uniform in [-1, 1), identical on every machine.
#pragma once
#include <cstdint>
#include <vector>

namespace hessq::kernels {

inline std::vector<float> seeded(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(static_cast<int32_t>(seed)) * 0x1.0p-31f;  // [-1, 1)
  }
  return v;
}

}  // namespace hessq::kernels
