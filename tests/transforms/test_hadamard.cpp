// Hadamard constructions: the defining property H H^T = n I checked here independently (integer
// arithmetic), for every order the library claims up to 172 * 4, plus the field arithmetic under Paley.
#include <gtest/gtest.h>

#include <algorithm>

#include "hessq/core/error.hpp"
#include "hessq/transforms/galois_field.hpp"
#include "hessq/transforms/hadamard.hpp"
#include "hessq/transforms/williamson.hpp"

namespace hessq::transforms {

// H H^T == n I exactly, and every entry is ±1 (in float: sums of <= 2^24 terms ±1 are exact, and
// float halves the cost of the product against double).
static ::testing::AssertionResult is_hadamard(const Mat& H) {
  const Eigen::Index n = H.rows();
  if (H.cols() != n) return ::testing::AssertionFailure() << "not square";
  for (Eigen::Index i = 0; i < H.size(); ++i)
    if (H.data()[i] != 1.0 && H.data()[i] != -1.0) return ::testing::AssertionFailure() << "entry " << H.data()[i];
  const Eigen::MatrixXf Hf = H.cast<float>();
  const Eigen::MatrixXf G = Hf * Hf.transpose();
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j)
      if (G(i, j) != (i == j ? n : 0))
        return ::testing::AssertionFailure() << "order " << n << ": (H H^T)[" << i << "][" << j << "] = " << G(i, j);
  return ::testing::AssertionSuccess();
}

TEST(GaloisField, PrimePowers) {
  EXPECT_EQ(prime_power(27), std::make_pair(3, 3));
  EXPECT_EQ(prime_power(25), std::make_pair(5, 2));
  EXPECT_EQ(prime_power(139), std::make_pair(139, 1));
  EXPECT_FALSE(prime_power(1));
  EXPECT_FALSE(prime_power(77));
  EXPECT_FALSE(prime_power(85));
}

// Field axioms that the quadratic character relies on, exhaustively in GF(27) and GF(25).
TEST(GaloisField, ExtensionFieldsAreFields) {
  for (int q : {25, 27, 49}) {
    GaloisField F(q);
    for (int a = 1; a < q; ++a) {
      int inverses = 0;
      for (int b = 1; b < q; ++b) inverses += F.mul(a, b) == 1;
      ASSERT_EQ(inverses, 1) << "GF(" << q << "): " << a << " has " << inverses << " inverses";
      for (int b = 0; b < q; b += 5)
        for (int c = 0; c < q; c += 3) {
          ASSERT_EQ(F.mul(a, F.add(b, c)), F.add(F.mul(a, b), F.mul(a, c)));
          ASSERT_EQ(F.mul(F.mul(a, b), c), F.mul(a, F.mul(b, c)));
        }
    }
    const auto chi = F.quadratic_character();
    EXPECT_EQ(std::count(chi.begin(), chi.end(), 1), (q - 1) / 2) << q;  // half the units are squares
    EXPECT_EQ(std::count(chi.begin(), chi.end(), -1), (q - 1) / 2) << q;
  }
}

// The base orders QuaRot uses (issue text), and the Paley ones that real models need (e.g. 76 for
// qwen3-4b's 9728 = 2^7 * 76, 148 for 18944).
TEST(Hadamard, KnownBasesIncludeQuaRotSizes) {
  const auto bases = hadamard_base_orders();
  for (int b : {12, 20, 28, 36, 52, 60, 108, 140, 156, 172, 44, 76, 148})
    EXPECT_TRUE(std::count(bases.begin(), bases.end(), b)) << b;
  for (int w : williamson_orders()) EXPECT_TRUE(hadamard_plan(4 * w).has_value()) << w;
  auto plan40 = hadamard_plan(40);
  ASSERT_TRUE(plan40);
  EXPECT_EQ(plan40->k, 1);
  EXPECT_EQ(plan40->b, 20);
  auto plan4096 = hadamard_plan(4096);
  ASSERT_TRUE(plan4096);
  EXPECT_EQ(plan4096->b, 1);
  EXPECT_EQ(plan4096->k, 12);
  auto plan14336 = hadamard_plan(14336);  // llama-3-8b intermediate: 512 * 28
  ASSERT_TRUE(plan14336);
  EXPECT_EQ(plan14336->b, 28);
  auto plan11008 = hadamard_plan(11008);  // llama-2-7b intermediate: 64 * 172 (Williamson, w = 43)
  ASSERT_TRUE(plan11008);
  EXPECT_EQ(plan11008->b, 172);
  EXPECT_EQ(plan11008->base, "williamson(w=43)");
}

TEST(Hadamard, EverySupportedOrderUpTo688IsHadamard) {
  int checked = 0;
  for (int n = 1; n <= 172 * 4; ++n) {
    auto H = hadamard_matrix(n);
    EXPECT_EQ(H.has_value(), hadamard_plan(n).has_value()) << n;
    if (!H) continue;
    ASSERT_TRUE(is_hadamard(*H)) << "n = " << n << " (" << hadamard_plan(n)->base << ")";
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST(Hadamard, SylvesterOrderAndBaseFactor) {
  // H_{2^k * b} = H_{2^k} ⊗ H_b, H_2 = [[1, 1], [1, -1]]: the doubling is the Kronecker product.
  const Mat H12 = hadamard_base(12), H24 = *hadamard_matrix(24);
  EXPECT_EQ(H24.topLeftCorner(12, 12), H12);
  EXPECT_EQ(H24.topRightCorner(12, 12), H12);
  EXPECT_EQ(H24.bottomLeftCorner(12, 12), H12);
  EXPECT_EQ(H24.bottomRightCorner(12, 12), -H12);
}

TEST(Hadamard, OrdersWithoutConstructionAreRejected) {
  for (int n : {3, 6, 43, 86, 92, 116}) EXPECT_FALSE(hadamard_plan(n).has_value()) << n;
  EXPECT_FALSE(hadamard_matrix(43).has_value());
  EXPECT_THROW(hadamard_base(43), Error);
  const std::string help = hadamard_sizes_help();
  EXPECT_NE(help.find("12, 20, 28"), std::string::npos) << help;
}

TEST(Williamson, TableEntriesAreHadamard) {
  for (int w : williamson_orders()) EXPECT_TRUE(is_hadamard(williamson_hadamard(w))) << w;
}

}  // namespace hessq::transforms
