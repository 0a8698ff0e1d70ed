#include "hessq/kernels/gemm_f32.hpp"

#include <cblas.h>

#include <algorithm>

extern "C" int openblas_get_num_threads(void);
extern "C" void openblas_set_num_threads(int);

namespace hessq::kernels {

SerialBlas::SerialBlas() : saved_(openblas_get_num_threads()) {
  if (saved_ != 1) openblas_set_num_threads(1);
}
SerialBlas::~SerialBlas() {
  if (saved_ != 1) openblas_set_num_threads(saved_);
}

void gemm_f32_rows(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  // [choice] 256 rows per chunk: each chunk re-packs B, so small chunks cost speed (measured on a
  // 4096^3 product, 2 threads: 64-row chunks 24% slower than OpenBLAS's own threading, 256-row 12%);
  // 256 still splits a 2048-token window over 8 threads.
  constexpr int64_t kChunk = 256;
  const int64_t chunks = (m + kChunk - 1) / kChunk;
  const SerialBlas serial;
  const auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1 && m * n * k >= (int64_t{1} << 18))
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t r0 = c * kChunk, rows = std::min(m, r0 + kChunk) - r0;
    const float* a = trans_a ? A + r0 : A + r0 * lda;  // op(A)'s rows r0.. are A's columns when transposed
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(rows), static_cast<int>(n), static_cast<int>(k), alpha, a,
                static_cast<int>(lda), B, static_cast<int>(ldb), beta, C + r0 * ldc, static_cast<int>(ldc));
  }
}

}  // namespace hessq::kernels
