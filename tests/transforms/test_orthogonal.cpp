// Rotation (factored orthogonal matrices) and HadamardLinear against dense double references.
#include <gtest/gtest.h>

#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/transforms/hadamard.hpp"
#include "hessq/transforms/orthogonal.hpp"

namespace hessq::transforms {

// Products of n <= 1024 double terms of magnitude <= 1: rounding stays near 1e-14.
constexpr double kOrthoTol = 1e-12;

static double ortho_error(const Mat& Q) {
  return (Q * Q.transpose() - Mat::Identity(Q.rows(), Q.cols())).cwiseAbs().maxCoeff();
}

TEST(Rotation, HadamardRotationIsNormalizedHadamardWithSigns) {
  for (int n : {1, 2, 64, 96, 172 * 2, 80}) {
    if (!hadamard_plan(n)) continue;
    const Rotation R = make_rotation(n, {true, 5, false}, "test");
    EXPECT_EQ(R.kind, RotationKind::Hadamard);
    const Mat Q = R.dense();
    EXPECT_LE(ortho_error(Q), kOrthoTol) << n;
    // Q = H diag(s) / sqrt(n) with H the library's Hadamard matrix.
    const Mat H = *hadamard_matrix(n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) ASSERT_NEAR(Q(i, j) * std::sqrt(n), H(i, j) * R.s[j], 1e-12) << n;
  }
}

TEST(Rotation, FallbackIsSeededOrthogonal) {
  const int n = 2 * 43;  // no Hadamard matrix exists: 4 does not divide 86
  const Rotation R = make_rotation(n, {false, 3, true}, "test");
  EXPECT_EQ(R.kind, RotationKind::RandomOrthogonal);
  EXPECT_EQ(R.k, 1);
  EXPECT_EQ(R.b(), 43);
  EXPECT_LE(ortho_error(R.dense()), kOrthoTol);
  EXPECT_EQ(make_rotation(n, {false, 3, true}, "test").B, R.B);  // same seed, same bytes
  EXPECT_NE(make_rotation(n, {false, 4, true}, "test").B, R.B);
}

TEST(Rotation, RandomOrthogonalIsOrthogonalAndDeterministic) {
  for (int n : {1, 7, 43, 129}) {
    const Mat Q = random_orthogonal(n, 11);
    EXPECT_LE(ortho_error(Q), kOrthoTol) << n;
    EXPECT_EQ(random_orthogonal(n, 11), Q);
  }
  EXPECT_NE(random_orthogonal(43, 1), random_orthogonal(43, 2));
}

TEST(Rotation, UnsupportedOrderWithoutFallbackNamesTheDimension) {
  try {
    make_rotation(86, {false, 0, false}, "hidden_dim (down_proj input)");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("hidden_dim"), std::string::npos) << msg;
    EXPECT_NE(msg.find("86"), std::string::npos) << msg;
    EXPECT_NE(msg.find("supported sizes"), std::string::npos) << msg;
  }
}

TEST(Rotation, ApplyRowsMatchesDenseProduct) {
  const Rotation R = make_rotation(48, {true, 9, true}, "test");  // 2^2 x paley1(q=11), signs
  const Mat Q = R.dense();
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> X(5, 48);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = std::sin(0.37 * i);
  const Mat ref = X * Q;
  R.apply_rows(X.data(), 5);
  EXPECT_LE((Mat(X) - ref).cwiseAbs().maxCoeff(), kOrthoTol);
}

TEST(Rotation, CustomRotationChecksOrthogonality) {
  EXPECT_NO_THROW(custom_rotation(random_orthogonal(10, 1), "R"));
  EXPECT_THROW(custom_rotation(2.0 * Mat::Identity(4, 4), "R"), Error);
}

// HadamardLinear computes inner(x M) with M the rotation's dense matrix, for b = 1 and b > 1.
TEST(HadamardLinear, ForwardIsInnerOfRotatedInput) {
  for (int n : {64, 48, 20, 172}) {
    const Rotation R = make_rotation(n, {false, 2, true}, "test");
    const int m = 5, T = 3;
    Tensor W = Tensor::zeros({m, n});
    for (int64_t i = 0; i < W.numel(); ++i) W.ptr()[i] = static_cast<float>(std::cos(0.11 * i));
    Tensor B = Tensor::zeros({R.b(), R.b()});
    for (int i = 0; i < R.b(); ++i)
      for (int j = 0; j < R.b(); ++j) B.ptr()[i * R.b() + j] = static_cast<float>(R.B(i, j));
    model::HadamardLinear lin(std::make_shared<model::DenseLinear>(W), R.k, B);
    std::vector<float> x(static_cast<size_t>(T) * n), y(static_cast<size_t>(T) * m);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.5 * i));
    lin.forward(x.data(), T, y.data());
    const Mat M = R.dense();
    for (int t = 0; t < T; ++t)
      for (int i = 0; i < m; ++i) {
        double ref = 0;  // sum_j (x M)_j W_ij
        for (int j = 0; j < n; ++j) {
          double xm = 0;
          for (int l = 0; l < n; ++l) xm += x[t * n + l] * M(l, j);
          ref += xm * W.ptr()[i * n + j];
        }
        // fp32 rotation + dot product of n terms of magnitude ~1: well under 1e-4.
        ASSERT_NEAR(y[t * m + i], ref, 1e-4) << "n " << n << " token " << t << " out " << i;
      }
  }
}

TEST(HadamardLinear, RejectsMismatchedSizes) {
  auto inner = std::make_shared<model::DenseLinear>(Tensor::zeros({4, 48}));
  EXPECT_THROW(model::HadamardLinear(inner, 3, Tensor::zeros({12, 12})), Error);  // 96 != 48
  model::HadamardLinear ok(inner, 2, Tensor::zeros({12, 12}));
  auto other = ok.with_inner(std::make_shared<model::DenseLinear>(Tensor::zeros({7, 48})));
  EXPECT_EQ(other->out_features(), 7);
  EXPECT_EQ(other->log2_blocks(), 2);
  EXPECT_THROW(ok.with_inner(std::make_shared<model::DenseLinear>(Tensor::zeros({7, 40}))), Error);
}

}  // namespace hessq::transforms
