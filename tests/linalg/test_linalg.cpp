// linalg against independent oracles: reconstruction identities and Eigen's own (non-LAPACK)
// solvers, on seeded random matrices in double precision.
#include <gtest/gtest.h>

#include "hessq/core/error.hpp"
#include "hessq/linalg/linalg.hpp"

namespace hessq::linalg {

// Backward-stable LAPACK routines on well-conditioned 40..80 sized problems: residuals ~1e-13;
// 1e-9 leaves room for conditioning without hiding a wrong result (errors would be O(1)).
constexpr double kTol = 1e-9;

static Mat random_matrix(int m, int n, unsigned seed) {
  std::srand(seed);
  return Mat::Random(m, n);
}

static Mat random_spd(int n, unsigned seed) {
  Mat X = random_matrix(2 * n, n, seed);
  return X.transpose() * X / (2.0 * n) + 1e-3 * Mat::Identity(n, n);
}

TEST(Linalg, EighReconstructsAndMatchesEigen) {
  Mat A = random_spd(50, 1);
  Eigh e = eigh(A);
  EXPECT_LT((e.vectors * e.values.asDiagonal() * e.vectors.transpose() - A).norm(), kTol);
  for (int i = 1; i < 50; ++i) EXPECT_LE(e.values[i - 1], e.values[i]);
  Eigen::SelfAdjointEigenSolver<Mat> ref(A);
  EXPECT_LT((e.values - ref.eigenvalues()).norm(), kTol);
}

TEST(Linalg, SvdReconstructsAndMatchesJacobi) {
  Mat A = random_matrix(60, 40, 2);
  Svd s = svd(A);
  EXPECT_LT((s.U * s.S.asDiagonal() * s.V.transpose() - A).norm(), kTol);
  EXPECT_LT((s.U.transpose() * s.U - Mat::Identity(40, 40)).norm(), kTol);
  Eigen::JacobiSVD<Mat> ref(A);
  EXPECT_LT((s.S - ref.singularValues()).norm(), kTol);
}

// Eckart-Young: the rank-r truncation error equals the norm of the dropped singular values.
TEST(Linalg, TruncatedSvdIsBestRankR) {
  Mat A = random_matrix(30, 50, 3);
  Svd full = svd(A), t = svd_truncated(A, 7);
  const double err = (A - t.U * t.S.asDiagonal() * t.V.transpose()).norm();
  EXPECT_NEAR(err, full.S.tail(30 - 7).norm(), kTol);
  EXPECT_THROW(svd_truncated(A, 31), Error);
}

// On a matrix of exact rank 10 plus tiny noise, randomized SVD finds the same top singular values.
TEST(Linalg, RandomizedSvdMatchesExactOnLowRank) {
  Mat A = random_matrix(200, 10, 4) * random_matrix(10, 150, 5) + 1e-8 * random_matrix(200, 150, 6);
  Svd exact = svd_truncated(A, 10), rnd = svd_randomized(A, 10, 10, 2, 42);
  EXPECT_LT((exact.S - rnd.S).norm() / exact.S.norm(), 1e-8);
  const Mat Le = exact.U * exact.S.asDiagonal() * exact.V.transpose();
  const Mat Lr = rnd.U * rnd.S.asDiagonal() * rnd.V.transpose();
  EXPECT_LT((Le - Lr).norm() / Le.norm(), 1e-7);
  Svd again = svd_randomized(A, 10, 10, 2, 42);  // seeded: identical
  EXPECT_EQ((again.S - rnd.S).norm(), 0.0);
}

TEST(Linalg, CholeskyAndInverse) {
  Mat A = random_spd(40, 7);
  Mat U = cholesky_upper(A);
  EXPECT_LT((U.transpose() * U - A).norm(), kTol);
  EXPECT_EQ(U.triangularView<Eigen::StrictlyLower>().toDenseMatrix().norm(), 0.0);
  EXPECT_LT((spd_inverse(A) * A - Mat::Identity(40, 40)).norm(), 1e-7);  // cond(A) ~1e3
  Mat singular = Mat::Zero(3, 3);
  singular(0, 0) = 1;
  EXPECT_THROW(cholesky_upper(singular), Error);
}

TEST(Linalg, UpperTriangularInverse) {
  // Hand-computed: [[2, 1], [0, 4]]^-1 = [[1/2, -1/8], [0, 1/4]].
  Mat R(2, 2);
  R << 2, 1, 7 /* below the diagonal: ignored */, 4;
  Mat expect(2, 2);
  expect << 0.5, -0.125, 0, 0.25;
  EXPECT_LE((upper_triangular_inverse(R) - expect).norm(), 1e-15);
  Mat Z = Mat::Identity(3, 3);
  Z(1, 1) = 0;
  EXPECT_THROW(upper_triangular_inverse(Z), Error);
}

TEST(Linalg, SquareRootsWithClamping) {
  Mat A = random_spd(30, 8);
  Roots r = sqrt_and_inv_sqrt(A, 1e-12, false);
  EXPECT_EQ(r.clamped, 0);
  EXPECT_LT((r.sqrt * r.sqrt - A).norm(), kTol);
  EXPECT_LT((r.sqrt * r.inv_sqrt - Mat::Identity(30, 30)).norm(), 1e-7);
  // A rank-deficient PSD matrix: the zero eigenvalues are raised to the floor.
  Mat X = random_matrix(5, 30, 9);
  Mat P = X.transpose() * X;
  Roots c = sqrt_and_inv_sqrt(P, 1e-6, true);
  EXPECT_EQ(c.clamped, 25);
  EXPECT_TRUE(c.inv_sqrt.allFinite());
  EXPECT_THROW(sqrt_and_inv_sqrt(Mat::Zero(4, 4), 1e-6, true), Error);
}

TEST(Linalg, NonFiniteInputIsRejected) {
  Mat A = random_spd(4, 10);
  A(1, 2) = std::nan("");
  EXPECT_THROW(eigh(A), Error);
  EXPECT_THROW(svd(A), Error);
}

}  // namespace hessq::linalg
