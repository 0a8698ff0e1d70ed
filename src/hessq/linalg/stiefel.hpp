// Descent on the Stiefel manifold St(n, p) = {X in R^[n, p] : X^T X = I} (p = n: the orthogonal group)
// along Cayley curves (Wen, Yin 2013, "A feasible method for optimization with orthogonality
// constraints", Math. Program. 142, arXiv:1208.4298; Li, Li, Todorovic 2020, "Efficient Riemannian
// optimization on the Stiefel manifold via the Cayley transform", ICLR, arXiv:2002.01113).
//
// For f(X) with Euclidean gradient G = df/dX [n, p]:
//   Omega = G X^T - X G^T                                    [n, n], skew
//   Y(alpha) = (I + alpha/2 Omega)^-1 (I - alpha/2 Omega) X  the Cayley curve through X
// Y(alpha)^T Y(alpha) = I for every alpha (the Cayley transform of a skew matrix is orthogonal),
// Y(0) = X and Y'(0) = -Omega X, so d f(Y(alpha)) / d alpha at 0 = -||Omega||_F^2 / 2 <= 0.
//
// [choice] Y is computed by the fixed-point iteration Y <- X - (alpha/2) Omega (X + Y) from Y = X
// (Li et al.'s iterative Cayley transform), run to convergence rather than their 2 iterations: it
// contracts by ||alpha/2 Omega||_2 per iteration, needs only matrix products (OpenBLAS dgemm, whose
// result does not depend on the thread count; an LU solve's blocking does), and reaches the exact
// Cayley point to round-off, so Y stays orthogonal to ~1e-14 step after step. A step with
// ||alpha/2 Omega||_F >= 1 (no guaranteed contraction) is refused.
#pragma once
#include "hessq/linalg/linalg.hpp"

namespace hessq::linalg {

// Omega = G X^T - X G^T for X, G [n, p]; throws if the shapes differ.
Mat stiefel_skew(const Mat& X, const Mat& G);

struct CayleyOptions {
  double tol = 1e-14;   // stop when max |Y_new - Y| <= tol (entries of an orthonormal X are <= 1)
  int max_iters = 200;  // cap; at ||alpha/2 Omega||_2 <= 0.5 convergence to 1e-14 takes <= 47
};

// Y(alpha) as above. X [n, p] (p <= n), Omega [n, n] skew; throws on shapes, non-finite input, or
// ||alpha/2 Omega||_F >= 1.
Mat cayley_retract(const Mat& X, const Mat& Omega, double alpha, const CayleyOptions& opt = {});

// max |X^T X - I|: how far X [n, p] is from having orthonormal columns.
double orthogonality_error(const Mat& X);

}  // namespace hessq::linalg
