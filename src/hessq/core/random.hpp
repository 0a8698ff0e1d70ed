// Portable randomness and hashing. splitmix64 (Steele, Lea, Flood 2014): a fixed, portable seeded stream, so synthetic checkpoints,
// sampled text and randomized algorithms give the same bytes with any standard library.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace hessq {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform on [0, 1) with 53 random bits.
inline double uniform01(uint64_t& state) { return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53; }

// N(0, 1) by Box-Muller from two draws (u1 first, kept away from 0 for the log).
inline double normal01(uint64_t& state) {
  const double u1 = uniform01(state) + 0x1.0p-54;
  const double u2 = uniform01(state);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// FNV-1a over bytes (continuing from `h`): a portable hash for names and fingerprints, unlike std::hash.
inline uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace hessq
