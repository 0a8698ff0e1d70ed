// fwht_f32 on every ISA against a dense double product with (H_{2^k} ⊗ I_b), H_{2^k} built from its
// definition H[i][j] = (-1)^popcount(i & j) (Sylvester order), independent of the butterfly code.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

#include "hessq/kernels/fwht.hpp"
#include "kernels/seeded.hpp"

namespace hessq::kernels {

// y = scale * x (H_{2^k} ⊗ I_b) in double: y[a' b + c] = scale * sum_a H[a][a'] x[a b + c].
static std::vector<double> reference(const std::vector<float>& x, int k, int64_t b, double scale) {
  const int64_t blocks = int64_t{1} << k;
  std::vector<double> y(x.size(), 0.0);
  for (int64_t a2 = 0; a2 < blocks; ++a2)
    for (int64_t a = 0; a < blocks; ++a) {
      const double h = std::popcount(static_cast<uint64_t>(a & a2)) % 2 ? -1.0 : 1.0;
      for (int64_t c = 0; c < b; ++c) y[a2 * b + c] += scale * h * x[a * b + c];
    }
  return y;
}

// Shapes cover b = 1 (in-register passes and n < 8), small b < 8 (scalar early passes), vector tails
// (b = 12, 20, 43) and several rows.
TEST(Fwht, MatchesDenseSylvesterOnEveryIsa) {
  struct Case {
    int k;
    int64_t b, rows;
  };
  const Case cases[] = {{0, 1, 2}, {1, 1, 3},  {2, 1, 1},  {3, 1, 2},  {7, 1, 3},  {10, 1, 1}, {3, 3, 2},
                        {4, 12, 2}, {2, 20, 1}, {5, 43, 2}, {0, 172, 1}, {6, 8, 1}, {2, 7, 1}};
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (const Case& c : cases) {
      const int64_t n = c.b << c.k;
      const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(int64_t{1} << c.k)));
      auto x = seeded(static_cast<size_t>(n * c.rows), 7);
      std::vector<float> got = x;
      fwht_f32(got.data(), c.rows, c.k, c.b, scale, isa);
      for (int64_t r = 0; r < c.rows; ++r) {
        std::vector<float> xr(x.begin() + r * n, x.begin() + (r + 1) * n);
        auto ref = reference(xr, c.k, c.b, scale);
        // k fp32 butterfly passes on |x| < 1: each adds <= 2^-24 relative error on values bounded by
        // 2^(k/2) after scaling; (k + 1) * 2^-24 * 2^(k/2) * 4 bounds it with margin.
        const double tol = (c.k + 1) * 0x1.0p-24 * std::pow(2.0, c.k / 2.0) * 4;
        for (int64_t j = 0; j < n; ++j)
          ASSERT_NEAR(got[r * n + j], ref[j], tol) << isa_name(isa) << " k=" << c.k << " b=" << c.b << " row " << r
                                                  << " col " << j;
      }
    }
  }
}

// The normalized transform is an involution: applying it twice gives back x.
TEST(Fwht, NormalizedTransformIsInvolution) {
  const int k = 9;
  auto x = seeded(512, 3);
  std::vector<float> y = x;
  const float scale = static_cast<float>(1.0 / std::sqrt(512.0));
  fwht_f32(y.data(), 1, k, 1, scale);
  fwht_f32(y.data(), 1, k, 1, scale);
  for (size_t j = 0; j < x.size(); ++j) ASSERT_NEAR(y[j], x[j], 1e-5f) << j;  // 2 x 9 fp32 passes on |x| < 1
}

TEST(Fwht, RejectsBadShape) {
  float x[4] = {};
  EXPECT_THROW(fwht_f32(x, 1, -1, 1, 1.0f), std::exception);
  EXPECT_THROW(fwht_f32(x, 1, 1, 0, 1.0f), std::exception);
}

}  // namespace hessq::kernels
