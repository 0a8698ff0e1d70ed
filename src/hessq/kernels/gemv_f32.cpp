#include "hessq/kernels/gemv_f32.hpp"

#include <immintrin.h>

#include <algorithm>

#include "hessq/core/error.hpp"

namespace hessq::kernels {

namespace {

// Reference: one row at a time, sequential float accumulation.
void rows_scalar(const float* W, const float* x, float* y, int64_t r0, int64_t r1, int64_t n) {
  for (int64_t i = r0; i < r1; ++i) {
    const float* w = W + i * n;
    float acc = 0.0f;
    for (int64_t j = 0; j < n; ++j) acc += w[j] * x[j];
    y[i] = acc;
  }
}

__attribute__((target("avx2,fma"))) inline float hsum256(__m256 s) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

// Four rows share each load of x; two accumulators per row hide FMA latency.
__attribute__((target("avx2,fma"))) void rows_avx2(const float* W, const float* x, float* y, int64_t r0, int64_t r1,
                                                   int64_t n) {
  const int64_t n16 = n & ~int64_t{15};
  int64_t i = r0;
  for (; i + 4 <= r1; i += 4) {
    const float* w[4] = {W + i * n, W + (i + 1) * n, W + (i + 2) * n, W + (i + 3) * n};
    __m256 a[4][2];
    for (auto& r : a) r[0] = r[1] = _mm256_setzero_ps();
    for (int64_t j = 0; j < n16; j += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
      for (int r = 0; r < 4; ++r) {
        a[r][0] = _mm256_fmadd_ps(_mm256_loadu_ps(w[r] + j), x0, a[r][0]);
        a[r][1] = _mm256_fmadd_ps(_mm256_loadu_ps(w[r] + j + 8), x1, a[r][1]);
      }
    }
    for (int r = 0; r < 4; ++r) {
      float acc = hsum256(_mm256_add_ps(a[r][0], a[r][1]));
      for (int64_t j = n16; j < n; ++j) acc += w[r][j] * x[j];
      y[i + r] = acc;
    }
  }
  rows_scalar(W, x, y, i, r1, n);
}

__attribute__((target("avx512f"))) void rows_avx512(const float* W, const float* x, float* y, int64_t r0, int64_t r1,
                                                    int64_t n) {
  const int64_t n32 = n & ~int64_t{31};
  int64_t i = r0;
  for (; i + 4 <= r1; i += 4) {
    const float* w[4] = {W + i * n, W + (i + 1) * n, W + (i + 2) * n, W + (i + 3) * n};
    __m512 a[4][2];
    for (auto& r : a) r[0] = r[1] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n32; j += 32) {
      const __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
      for (int r = 0; r < 4; ++r) {
        a[r][0] = _mm512_fmadd_ps(_mm512_loadu_ps(w[r] + j), x0, a[r][0]);
        a[r][1] = _mm512_fmadd_ps(_mm512_loadu_ps(w[r] + j + 16), x1, a[r][1]);
      }
    }
    for (int r = 0; r < 4; ++r) {
      // Reduce through memory: GCC 12's 512-bit reduce/extract intrinsics trip -Wmaybe-uninitialized.
      alignas(64) float lanes[16];
      _mm512_store_ps(lanes, _mm512_add_ps(a[r][0], a[r][1]));
      float acc = 0.0f;
      for (float v : lanes) acc += v;
      for (int64_t j = n32; j < n; ++j) acc += w[r][j] * x[j];
      y[i + r] = acc;
    }
  }
  rows_scalar(W, x, y, i, r1, n);
}

}  // namespace

void gemv_f32(const float* W, const float* x, float* y, int64_t m, int64_t n, Isa isa) {
  const GemvJob job{W, y, m};
  gemv_f32_many(&job, 1, x, n, isa);
}

void gemv_f32_many(const GemvJob* jobs, int count, const float* x, int64_t n, Isa isa) {
  HESSQ_CHECK(isa_supported(isa), "gemv_f32: this CPU does not support {}", isa_name(isa));
  HESSQ_CHECK(count >= 1 && count <= kMaxGemvJobs, "gemv_f32_many: {} products, expected 1 to {}", count, kMaxGemvJobs);
  auto rows = isa == Isa::Avx512 ? rows_avx512 : isa == Isa::Avx2 ? rows_avx2 : rows_scalar;
  // Blocks of 64 rows (a multiple of the 4-row kernel), numbered across the jobs in order.
  constexpr int64_t kRowsPerBlock = 64;
  int64_t first[kMaxGemvJobs + 1] = {0}, total_rows = 0;
  for (int j = 0; j < count; ++j) {
    first[j + 1] = first[j] + (jobs[j].m + kRowsPerBlock - 1) / kRowsPerBlock;
    total_rows += jobs[j].m;
  }
  const int64_t blocks = first[count];
  // Small products stay on one thread: a fork/join costs more than they take.
#pragma omp parallel for schedule(dynamic, 1) if (total_rows * n >= (int64_t{1} << 18))
  for (int64_t b = 0; b < blocks; ++b) {
    int j = 0;
    while (b >= first[j + 1]) ++j;
    const int64_t r0 = (b - first[j]) * kRowsPerBlock;
    rows(jobs[j].W, x, jobs[j].y, r0, std::min(jobs[j].m, r0 + kRowsPerBlock), n);
  }
}

}  // namespace hessq::kernels
