// Low-rank branch storage: balancing keeps B A^T, f16 rounding gives representable values, and a
// factor beyond the f16 range is an error rather than an inf.
#include <gtest/gtest.h>

#include <cmath>

#include "hessq/core/random.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/methods/lowrank_storage.hpp"

namespace hessq::methods {

// B A^T of [12, 3] x [3, 20] factors of order 1 in fp32: balancing rescales each column by a
// float, so the product moves by a few ulps of its entries.
constexpr double kBalanceRelTol = 1e-6;

static MatF seeded(Eigen::Index r, Eigen::Index c, uint64_t seed, float scale) {
  MatF M(r, c);
  for (Eigen::Index i = 0; i < M.size(); ++i) {
    M.data()[i] = scale * static_cast<float>(static_cast<double>(splitmix64(seed)) / 9.223372036854775808e18 - 1.0);
  }
  return M;
}

TEST(LowRankStorage, BalancingKeepsTheProductAndEqualizesColumnNorms) {
  MatF A = seeded(20, 3, 1, 1000.0f), B = seeded(12, 3, 2, 1e-3f);  // ARHQ-like: large A, small B
  const MatF L = B * A.transpose();
  balance_lowrank(A, B);
  EXPECT_LE((B * A.transpose() - L).norm(), kBalanceRelTol * L.norm());
  for (Eigen::Index i = 0; i < 3; ++i) EXPECT_NEAR(A.col(i).norm() / B.col(i).norm(), 1.0, 1e-5);
}

TEST(LowRankStorage, F16ValuesAreRepresentable) {
  MatF A = seeded(20, 3, 3, 1.0f), B = seeded(12, 3, 4, 1.0f);
  prepare_lowrank_storage(A, B, LowRankStorage::F16, "test");
  for (const MatF* M : {&A, &B})
    for (Eigen::Index i = 0; i < M->size(); ++i) EXPECT_EQ(f16_to_f32(f32_to_f16(M->data()[i])), M->data()[i]);
}

TEST(LowRankStorage, OverflowIsAnErrorNamingTheLayer) {
  MatF A = MatF::Constant(4, 1, 1e6f), B = MatF::Constant(3, 1, 1e6f);  // balanced entries 1e6 > 65504
  try {
    prepare_lowrank_storage(A, B, LowRankStorage::F16, "model.layers.0.mlp.down_proj");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.down_proj: low-rank factor"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("store the branch in f32"), std::string::npos) << e.what();
  }
  MatF A32 = A, B32 = B;
  EXPECT_NO_THROW(prepare_lowrank_storage(A32, B32, LowRankStorage::F32, "x"));
}

}  // namespace hessq::methods
