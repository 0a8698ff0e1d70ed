// The machine's streaming read bandwidth, as the decode benchmarks divide by it: a sum over a buffer,
// each thread on its own slice, four independent AVX2 accumulators (bound by memory, not by add latency).
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hessq::bench {

__attribute__((target("avx2"))) inline uint64_t sum_slice(const uint64_t* a, size_t n) {
  __m256i s[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  for (size_t i = 0; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; ++k)
      s[k] = _mm256_add_epi64(s[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i + 4 * k)));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(s[0], s[1]), _mm256_add_epi64(s[2], s[3])));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

// The sum of `a` read once, in 64 slices shared out to the OpenMP threads (a.size() a multiple of 1024).
inline uint64_t read_all(const std::vector<uint64_t>& a) {
  constexpr size_t kSlices = 64;
  const size_t slice = a.size() / kSlices;
  uint64_t s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s)
  for (size_t i = 0; i < kSlices; ++i) s += sum_slice(a.data() + i * slice, slice);
  return s;
}

}  // namespace hessq::bench
