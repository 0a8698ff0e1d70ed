// Seeded synthetic layers for the solver tests (METHODS.md notation): inputs X = Z C D + noise with
// C of rank < n, so H = X^T X / N has a real (near-)null space, D a per-channel magnitude spread with
// a few large "outlier" input channels (what AWQ reacts to), and W with a few large entries (what
// OSAQ absorbs). Calibration and held-out tokens come from the same distribution.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "hessq/core/random.hpp"
#include "hessq/core/error.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::methods::test {

// splitmix64 stream with Box-Muller normals: the same numbers on every platform and library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  double uniform() { return uniform01(s_); }  // in [0, 1)
  double normal() { return normal01(s_); }

 private:
  uint64_t s_;
};

inline linalg::Mat normal_matrix(int64_t rows, int64_t cols, Rng& rng, double scale = 1.0) {
  linalg::Mat A(rows, cols);
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = 0; r < rows; ++r) A(r, c) = scale * rng.normal();
  return A;
}

struct ProblemShape {
  int64_t m = 64, n = 128;
  int64_t rank = 96;        // rank of the signal part of X
  int64_t tokens = 1024;    // calibration tokens (held-out: as many again)
  double noise = 1e-5;      // isotropic noise added to X (the null space's energy)
  int outlier_channels = 4;  // input channels scaled by 10
  uint64_t seed = 1;
};

struct Problem {
  MatF W;                // [m, n]
  linalg::Mat X, X_held;  // [tokens, n] double (exact oracles)
  linalg::Mat H, H_held;  // X^T X / N of each
};

inline linalg::Mat hessian_of(const linalg::Mat& X) { return X.transpose() * X / static_cast<double>(X.rows()); }

inline Problem make_problem(const ProblemShape& p = {}) {
  Rng rng(p.seed);
  // Mixing C [rank, n] with singular values spread over a decade, times per-channel magnitudes D.
  linalg::Mat C = normal_matrix(p.rank, p.n, rng, 1.0 / std::sqrt(static_cast<double>(p.rank)));
  for (int64_t i = 0; i < p.rank; ++i) C.row(i) *= std::pow(10.0, -static_cast<double>(i) / p.rank);
  linalg::Vec D(p.n);
  for (int64_t j = 0; j < p.n; ++j) D[j] = std::exp(0.5 * rng.normal()) * (j < p.outlier_channels ? 10.0 : 1.0);
  C = C * D.asDiagonal();
  auto draw_X = [&] {
    return linalg::Mat(normal_matrix(p.tokens, p.rank, rng) * C + normal_matrix(p.tokens, p.n, rng, p.noise));
  };
  Problem out;
  out.X = draw_X();
  out.X_held = draw_X();
  out.H = hessian_of(out.X);
  out.H_held = hessian_of(out.X_held);
  // W: N(0, 1/n) with 1% of the entries 8x larger.
  out.W.resize(p.m, p.n);
  for (int64_t r = 0; r < p.m; ++r)
    for (int64_t c = 0; c < p.n; ++c) {
      const double big = rng.uniform() < 0.01 ? 8.0 : 1.0;
      out.W(r, c) = static_cast<float>(big * rng.normal() / std::sqrt(static_cast<double>(p.n)));
    }
  return out;
}

// Inputs with an exact spectrum gap: X = Z diag(sigma) Q^T + noise, Q a seeded random orthogonal
// basis, sigma_i uniform in [0.5, 1.5] for i < rank, 0 beyond; so H ~ Q diag(sigma^2) Q^T has
// n - rank eigenvalues ~ noise^2 (the null space) well below the smallest signal one (~0.25).
inline Problem make_gapped_problem(const ProblemShape& p = {}) {
  Rng rng(p.seed);
  const linalg::Mat Q = Eigen::HouseholderQR<linalg::Mat>(normal_matrix(p.n, p.n, rng)).householderQ();
  linalg::Mat C = linalg::Mat::Zero(p.n, p.n);  // diag(sigma) Q^T
  for (int64_t i = 0; i < p.rank; ++i) C.row(i) = (0.5 + rng.uniform()) * Q.col(i).transpose();
  auto draw_X = [&] {
    return linalg::Mat(normal_matrix(p.tokens, p.n, rng) * C + normal_matrix(p.tokens, p.n, rng, p.noise));
  };
  Problem out;
  out.X = draw_X();
  out.X_held = draw_X();
  out.H = hessian_of(out.X);
  out.H_held = hessian_of(out.X_held);
  out.W.resize(p.m, p.n);
  for (int64_t r = 0; r < p.m; ++r)
    for (int64_t c = 0; c < p.n; ++c) {
      const double big = rng.uniform() < 0.01 ? 8.0 : 1.0;
      out.W(r, c) = static_cast<float>(big * rng.normal() / std::sqrt(static_cast<double>(p.n)));
    }
  return out;
}

// ||X (W_q - W)^T||_F^2 / N in double, straight from the tokens: the oracle for every proxy loss.
inline double output_error(const linalg::Mat& X, const MatF& W, const MatF& W_q) {
  const linalg::Mat D = W_q.cast<double>() - W.cast<double>();
  return (X * D.transpose()).squaredNorm() / static_cast<double>(X.rows());
}

// fn must throw hessq::Error whose message contains `text`.
inline void expect_error(const std::function<void()>& fn, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "expected hessq::Error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << "message: " << e.what();
  }
}

}  // namespace hessq::methods::test
