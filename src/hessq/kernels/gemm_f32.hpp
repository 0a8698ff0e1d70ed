// Matrix products whose bytes do not depend on the thread count.
//
// OpenBLAS's threaded routines are not thread-count independent: with its Haswell kernels
// (OPENBLAS_CORETYPE=Haswell) sgemm results change in their last bits between 1 and 2 threads on
// most shapes (which micro-kernel computes an element depends on how the output is split), and its
// threaded potrf uses another algorithm than the serial one on every kernel choice. hessq's rule
// (docs/ARCHITECTURE.md, "Threads"): every BLAS/LAPACK call runs on one OpenBLAS thread, and the
// parallelism is hessq's own, over pieces whose size does not depend on the thread count.
// - SerialBlas pins OpenBLAS to one thread for a scope (the CLI pins it for the whole process).
// - gemm_f32_rows is a parallel sgemm: C's rows are cut into fixed chunks, each a serial sgemm.
#pragma once
#include <cstdint>

namespace hessq::kernels {

class SerialBlas {
 public:
  SerialBlas();
  ~SerialBlas();
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;

 private:
  int saved_;
};

// Row-major C [m, n] = alpha op(A) op(B) + beta C, as cblas_sgemm(CblasRowMajor, ...): op(A) is
// [m, k] (A [k, m] with lda when trans_a), op(B) is [k, n] (B [n, k] with ldb when trans_b).
// Identical bytes at any OpenMP or OpenBLAS thread count, on a given machine and BLAS kernel.
void gemm_f32_rows(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace hessq::kernels
