// gemm_f32_rows against a naive double-precision product, and its bytes at every thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "hessq/kernels/gemm_f32.hpp"
#include "kernels/seeded.hpp"

extern "C" int openblas_get_num_threads(void);
extern "C" void openblas_set_num_threads(int);

namespace hessq::kernels {

struct Problem {
  bool ta, tb;
  int64_t m, n, k;
  std::vector<float> A, B, C0;
  int64_t lda() const { return ta ? m : k; }
  int64_t ldb() const { return tb ? k : n; }
  float a(int64_t i, int64_t p) const { return ta ? A[p * m + i] : A[i * k + p]; }
  float b(int64_t p, int64_t j) const { return tb ? B[j * k + p] : B[p * n + j]; }
  std::vector<float> run(float alpha, float beta) const {
    std::vector<float> C = C0;
    gemm_f32_rows(ta, tb, m, n, k, alpha, A.data(), lda(), B.data(), ldb(), beta, C.data(), n);
    return C;
  }
};

static Problem make(bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
  return {ta, tb, m, n, k, seeded(m * k, 1), seeded(k * n, 2), seeded(m * n, 3)};
}

// Every transpose combination; m = 600 spans three row chunks (the last one partial) and the
// threaded path, m = 5 the single-call path.
TEST(GemmF32, MatchesDoubleReference) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t m : {5, 600}) {
        const Problem P = make(ta, tb, m, 70, 130);
        const float alpha = 0.75f, beta = -0.5f;
        const std::vector<float> C = P.run(alpha, beta);
        for (int64_t i = 0; i < P.m; ++i)
          for (int64_t j = 0; j < P.n; ++j) {
            double ref = 0, mag = 0;
            for (int64_t p = 0; p < P.k; ++p) {
              ref += static_cast<double>(P.a(i, p)) * P.b(p, j);
              mag += std::abs(static_cast<double>(P.a(i, p)) * P.b(p, j));
            }
            ref = alpha * ref + beta * static_cast<double>(P.C0[i * P.n + j]);
            // fp32 sums of k products in any order: |error| <= k eps sum|a b| (loose), plus the beta term's rounding.
            ASSERT_NEAR(C[i * P.n + j], ref, P.k * 0x1.0p-24 * (alpha * mag + 1.0)) << ta << tb << " " << i << "," << j;
          }
      }
}

// The bytes must not depend on OpenMP's thread count, nor on the OpenBLAS thread count around the
// call (OpenBLAS's own threading changes last bits with its Haswell kernels: gemm_f32.hpp).
TEST(GemmF32, IdenticalBytesAtAnyThreadCount) {
  const int saved_omp = omp_get_max_threads(), saved_blas = openblas_get_num_threads();
  for (bool ta : {false, true}) {
    const Problem P = make(ta, true, 700, 300, 200);
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    const std::vector<float> ref = P.run(1.0f, 0.0f);
    for (int omp : {2, 3})
      for (int blas : {1, 2}) {
        omp_set_num_threads(omp);
        openblas_set_num_threads(blas);
        const std::vector<float> C = P.run(1.0f, 0.0f);
        EXPECT_EQ(std::memcmp(C.data(), ref.data(), C.size() * sizeof(float)), 0) << omp << " " << blas;
        EXPECT_EQ(openblas_get_num_threads(), blas);  // SerialBlas restored the caller's setting
      }
  }
  omp_set_num_threads(saved_omp);
  openblas_set_num_threads(saved_blas);
}

}  // namespace hessq::kernels
