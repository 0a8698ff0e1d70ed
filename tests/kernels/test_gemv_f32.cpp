// Every ISA path of gemv_f32 against a naive double-precision product.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "hessq/kernels/gemv_f32.hpp"
#include "kernels/seeded.hpp"

namespace hessq::kernels {

// Shapes cover the 4-row kernel remainder, the vector tail and the threaded path.
TEST(GemvF32, MatchesDoubleReferenceOnEveryIsa) {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {3, 7}, {5, 33}, {64, 64}, {131, 517}, {700, 1000}};
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (auto [m, n] : shapes) {
      auto W = seeded(m * n, 1), x = seeded(n, 2);
      std::vector<float> y(m);
      gemv_f32(W.data(), x.data(), y.data(), m, n, isa);
      for (int64_t i = 0; i < m; ++i) {
        double ref = 0, mag = 0;
        for (int64_t j = 0; j < n; ++j) {
          ref += static_cast<double>(W[i * n + j]) * x[j];
          mag += std::abs(static_cast<double>(W[i * n + j]) * x[j]);
        }
        // fp32 summation of n terms in any order: |error| <= n * eps * sum |w x| (a loose bound).
        ASSERT_NEAR(y[i], ref, n * 0x1.0p-24 * mag + 1e-30) << isa_name(isa) << " " << m << "x" << n << " row " << i;
      }
    }
  }
}

// Several products in one parallel loop: each y_i has the bytes gemv_f32 gives for it alone (the same
// row kernel), at any thread count; ragged row counts (not multiples of the 64-row block or the
// 4-row kernel) and a job with no rows included. Shapes large enough to run in parallel.
TEST(GemvF32, ManyMatchesOneAtATimeAtAnyThreadCount) {
  const int64_t n = 517, ms[] = {131, 0, 700, 67};
  std::vector<std::vector<float>> W, expect;
  const auto x = seeded(n, 9);
  for (int j = 0; j < 4; ++j) {
    W.push_back(seeded(ms[j] * n, 10 + j));
    expect.emplace_back(ms[j]);
  }
  const int saved = omp_get_max_threads();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int j = 0; j < 4; ++j) gemv_f32(W[j].data(), x.data(), expect[j].data(), ms[j], n, isa);
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      std::vector<std::vector<float>> got;
      std::vector<GemvJob> jobs;
      for (int j = 0; j < 4; ++j) got.emplace_back(ms[j], -1.0f);
      for (int j = 0; j < 4; ++j) jobs.push_back({W[j].data(), got[j].data(), ms[j]});
      gemv_f32_many(jobs.data(), 4, x.data(), n, isa);
      for (int j = 0; j < 4; ++j)
        ASSERT_EQ(0, std::memcmp(got[j].data(), expect[j].data(), sizeof(float) * ms[j]))
            << isa_name(isa) << " job " << j << " threads " << threads;
    }
  }
  omp_set_num_threads(saved);
}

TEST(GemvF32, BestIsaIsSupported) { EXPECT_TRUE(isa_supported(best_isa())); }

}  // namespace hessq::kernels
