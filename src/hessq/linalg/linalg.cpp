#include "hessq/core/random.hpp"
#include "hessq/linalg/linalg.hpp"

#include <lapacke.h>

#include <algorithm>
#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/kernels/gemm_f32.hpp"

namespace hessq::linalg {

static void check_finite(const Mat& A, const char* what) {
  HESSQ_CHECK(A.allFinite(), "{}: the {}x{} input has NaN or Inf entries", what, A.rows(), A.cols());
}

Eigh eigh(const Mat& A) {
  HESSQ_CHECK(A.rows() == A.cols(), "eigh: matrix is {}x{}, expected square", A.rows(), A.cols());
  check_finite(A, "eigh");
  Eigh e;
  e.vectors = A;
  e.values.resize(A.rows());
  const lapack_int n = static_cast<lapack_int>(A.rows());
  if (n == 0) return e;
  const kernels::SerialBlas serial;  // threaded LAPACK depends on the thread count
  lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', n, e.vectors.data(), n, e.values.data());
  HESSQ_CHECK(info == 0, "eigh: LAPACK dsyevd failed on a {}x{} matrix (info {})", n, n, info);
  return e;
}

Svd svd(const Mat& A) {
  check_finite(A, "svd");
  const lapack_int m = static_cast<lapack_int>(A.rows()), n = static_cast<lapack_int>(A.cols());
  const lapack_int k = std::min(m, n);
  Mat a = A;
  Svd s;
  s.U.resize(m, k);
  s.S.resize(k);
  Mat Vt(k, n);
  if (k == 0) return s;
  const kernels::SerialBlas serial;
  lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', m, n, a.data(), m, s.S.data(), s.U.data(), m, Vt.data(), k);
  HESSQ_CHECK(info == 0, "svd: LAPACK dgesdd failed on a {}x{} matrix (info {})", m, n, info);
  s.V = Vt.transpose();
  return s;
}

static Svd truncate(Svd s, int r) {
  s.U = s.U.leftCols(r).eval();
  s.S = s.S.head(r).eval();
  s.V = s.V.leftCols(r).eval();
  return s;
}

Svd svd_truncated(const Mat& A, int r) {
  const int k = static_cast<int>(std::min(A.rows(), A.cols()));
  HESSQ_CHECK(r >= 0 && r <= k, "rank {} is out of range for a {}x{} matrix (at most {})", r, A.rows(), A.cols(), k);
  return truncate(svd(A), r);
}

// Orthonormal basis of the columns of Y (thin QR).
static Mat orthonormal(const Mat& Y) {
  Eigen::HouseholderQR<Mat> qr(Y);
  return qr.householderQ() * Mat::Identity(Y.rows(), Y.cols());
}

Svd svd_randomized(const Mat& A, int r, int oversample, int power_iters, uint64_t seed) {
  const int k = static_cast<int>(std::min(A.rows(), A.cols()));
  HESSQ_CHECK(r >= 0 && r <= k, "rank {} is out of range for a {}x{} matrix (at most {})", r, A.rows(), A.cols(), k);
  check_finite(A, "svd_randomized");
  const int l = std::min(k, r + oversample);
  if (l >= k) return svd_truncated(A, r);  // the sketch would be the whole matrix
  // Gaussian test matrix from a seeded splitmix64 stream (Box-Muller), portable across libraries.
  Mat Omega(A.cols(), l);
  uint64_t s = seed;
  for (Eigen::Index i = 0; i < Omega.size(); ++i) Omega.data()[i] = normal01(s);
  Mat Q = orthonormal(A * Omega);
  for (int it = 0; it < power_iters; ++it) {
    Mat Z = orthonormal(A.transpose() * Q);
    Q = orthonormal(A * Z);
  }
  Svd small = svd(Q.transpose() * A);  // [l, n]
  Svd out;
  out.U = Q * small.U.leftCols(r);
  out.S = small.S.head(r);
  out.V = small.V.leftCols(r);
  return out;
}

static void check_square(const Mat& A, const char* what) {
  HESSQ_CHECK(A.rows() == A.cols(), "{}: matrix is {}x{}, expected square", what, A.rows(), A.cols());
}

void cholesky_upper_in_place(Mat& A) {
  check_square(A, "cholesky");
  const lapack_int n = static_cast<lapack_int>(A.rows());
  for (lapack_int j = 0; j < n; ++j)  // the upper triangle: the only part potrf reads
    HESSQ_CHECK(A.col(j).head(j + 1).allFinite(), "cholesky: the {}x{} input has NaN or Inf entries", n, n);
  if (n == 0) return;
  const kernels::SerialBlas serial;
  lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, A.data(), n);
  HESSQ_CHECK(info == 0, "cholesky: the {}x{} matrix is not positive definite (leading minor {} fails)", n, n, info);
}

void cholesky_inverse_in_place(Mat& U) {
  check_square(U, "spd_inverse");
  const lapack_int n = static_cast<lapack_int>(U.rows());
  if (n == 0) return;
  const kernels::SerialBlas serial;
  lapack_int info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', n, U.data(), n);
  HESSQ_CHECK(info == 0, "spd_inverse: LAPACK dpotri failed on a {}x{} matrix (info {})", n, n, info);
}

void upper_triangular_inverse_in_place(Mat& R) {
  check_square(R, "triangular inverse");
  const lapack_int n = static_cast<lapack_int>(R.rows());
  if (n == 0) return;
  const kernels::SerialBlas serial;
  const lapack_int info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', n, R.data(), n);
  HESSQ_CHECK(info == 0, "triangular inverse: diagonal entry {} of the {}x{} matrix is zero", info, n, n);
}

// Tiles of kT x kT keep both the read and the write side cache-friendly on large matrices; tile
// columns are independent, so they run in parallel.
template <bool kFromUpper>
static void symmetrize(Mat& A) {
  check_square(A, "symmetrize");
  constexpr Eigen::Index kT = 64;
  const Eigen::Index n = A.rows();
#pragma omp parallel for schedule(dynamic, 1)
  for (Eigen::Index j0 = 0; j0 < n; j0 += kT)  // the tiles in column j0.. of the strict lower triangle
    for (Eigen::Index i0 = j0; i0 < n; i0 += kT)
      for (Eigen::Index j = j0; j < std::min(j0 + kT, n); ++j)
        for (Eigen::Index i = std::max(i0, j + 1); i < std::min(i0 + kT, n); ++i) {
          if constexpr (kFromUpper)
            A(i, j) = A(j, i);
          else
            A(j, i) = A(i, j);
        }
}

void symmetrize_from_upper(Mat& A) { symmetrize<true>(A); }
void symmetrize_from_lower(Mat& A) { symmetrize<false>(A); }

Mat cholesky_upper(const Mat& A) {
  check_square(A, "cholesky");
  check_finite(A, "cholesky");
  Mat U = A;
  cholesky_upper_in_place(U);
  return U.triangularView<Eigen::Upper>();
}

Mat spd_inverse(const Mat& A) {
  Mat U = cholesky_upper(A);
  cholesky_inverse_in_place(U);
  Mat inv = U.selfadjointView<Eigen::Upper>();
  return inv;
}

Mat upper_triangular_inverse(const Mat& R) {
  check_square(R, "triangular inverse");
  Mat inv = R.triangularView<Eigen::Upper>();
  upper_triangular_inverse_in_place(inv);
  return inv;
}

Roots sqrt_and_inv_sqrt(const Mat& A, double eps, bool relative) {
  HESSQ_CHECK(eps > 0, "eigenvalue clamp eps must be > 0, got {}", eps);
  Eigh e = eigh(A);
  const double floor = relative ? eps * std::max(e.values.maxCoeff(), 0.0) : eps;
  HESSQ_CHECK(floor > 0, "the {}x{} matrix has no positive eigenvalue (all {} are <= 0)", A.rows(), A.cols(),
              e.values.size());
  Roots r;
  Vec l = e.values;
  for (Eigen::Index i = 0; i < l.size(); ++i)
    if (l[i] < floor) {
      l[i] = floor;
      ++r.clamped;
    }
  const Vec s = l.array().sqrt();
  r.sqrt = e.vectors * s.asDiagonal() * e.vectors.transpose();
  r.inv_sqrt = e.vectors * s.cwiseInverse().asDiagonal() * e.vectors.transpose();
  return r;
}

}  // namespace hessq::linalg
