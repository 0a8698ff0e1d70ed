#include "hessq/kernels/fwht.hpp"

#include <immintrin.h>

#include "hessq/core/error.hpp"

namespace hessq::kernels {

namespace {

// Reference: pass h pairs element j with j + h inside each block of 2h, for h = b, 2b, ..., n/2.
void row_scalar(float* x, int k, int64_t b, float scale) {
  const int64_t n = b << k;
  for (int64_t h = b; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const float u = x[j], v = x[j + h];
        x[j] = u + v;
        x[j + h] = u - v;
      }
  if (scale != 1.0f)
    for (int64_t j = 0; j < n; ++j) x[j] *= scale;
}

// The three passes h = 1, 2, 4 of an 8-point FWHT inside one register: with s the lanes swapped at
// distance h, lane j becomes s_j + sign_j v_j (sign +1 in the lower, -1 in the upper half of each pair).
__attribute__((target("avx2,fma"))) inline __m256 fwht8(__m256 v) {
  const __m256 sign1 = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
  const __m256 sign2 = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
  const __m256 sign4 = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
  v = _mm256_fmadd_ps(v, sign1, _mm256_permute_ps(v, 0xB1));  // lanes [1, 0, 3, 2, ...]
  v = _mm256_fmadd_ps(v, sign2, _mm256_permute_ps(v, 0x4E));  // lanes [2, 3, 0, 1, ...]
  return _mm256_fmadd_ps(v, sign4, _mm256_permute2f128_ps(v, v, 0x01));  // swap 128-bit halves
}

// Butterflies on whole vectors once h >= 8; b = 1 starts with fwht8, other b < 8 with scalar passes.
__attribute__((target("avx2,fma"))) void row_avx2(float* x, int k, int64_t b, float scale) {
  const int64_t n = b << k;
  int64_t h = b;
  if (b == 1 && n >= 8) {
    for (int64_t i = 0; i < n; i += 8) _mm256_storeu_ps(x + i, fwht8(_mm256_loadu_ps(x + i)));
    h = 8;
  }
  for (; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h) {
      float* p = x + i;
      float* q = x + i + h;
      int64_t j = 0;
      for (; j + 8 <= h; j += 8) {
        const __m256 u = _mm256_loadu_ps(p + j), v = _mm256_loadu_ps(q + j);
        _mm256_storeu_ps(p + j, _mm256_add_ps(u, v));
        _mm256_storeu_ps(q + j, _mm256_sub_ps(u, v));
      }
      for (; j < h; ++j) {
        const float u = p[j], v = q[j];
        p[j] = u + v;
        q[j] = u - v;
      }
    }
  if (scale != 1.0f) {
    const __m256 s = _mm256_set1_ps(scale);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), s));
    for (; j < n; ++j) x[j] *= scale;
  }
}

}  // namespace

void fwht_f32(float* x, int64_t rows, int k, int64_t b, float scale, Isa isa) {
  HESSQ_CHECK(k >= 0 && k <= 30 && b >= 1, "fwht_f32: need 0 <= k <= 30 and b >= 1, got k = {}, b = {}", k, b);
  HESSQ_CHECK(isa_supported(isa), "fwht_f32: this CPU does not support {}", isa_name(isa));
  auto row = isa == Isa::Scalar ? row_scalar : row_avx2;
  const int64_t n = b << k;
#pragma omp parallel for schedule(static) if (rows * n >= (int64_t{1} << 18))
  for (int64_t r = 0; r < rows; ++r) row(x + r * n, k, b, scale);
}

}  // namespace hessq::kernels
