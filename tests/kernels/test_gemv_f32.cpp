// Every ISA path of gemv_f32 against a naive double-precision product.
#include <gtest/gtest.h>

#include <cmath>
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

TEST(GemvF32, BestIsaIsSupported) { EXPECT_TRUE(isa_supported(best_isa())); }

}  // namespace hessq::kernels
