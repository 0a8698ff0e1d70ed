// Dense linear algebra in double precision over Eigen matrices, backed by LAPACK (syevd, gesdd,
// potrf). Symbols follow METHODS.md. Every routine throws hessq::Error on failure (not positive
// definite, non-finite input), naming what it was given.
#pragma once
#include <cstdint>

#include <Eigen/Dense>

namespace hessq::linalg {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

struct Eigh {
  Vec values;   // ascending
  Mat vectors;  // columns are the eigenvectors, A = V diag(values) V^T
};
Eigh eigh(const Mat& A);  // A symmetric (only the lower triangle is read)

struct Svd {
  Mat U;  // [m, k]
  Vec S;  // [k], descending
  Mat V;  // [n, k], A ~ U diag(S) V^T
};
Svd svd(const Mat& A);                 // thin, exact (gesdd), k = min(m, n)
Svd svd_truncated(const Mat& A, int r);  // exact SVD cut to rank r (r <= min(m, n), else throws)
// Randomized SVD (Halko et al. 2011): Gaussian sketch of r + oversample columns, `power_iters`
// subspace iterations with re-orthonormalization, seeded.
Svd svd_randomized(const Mat& A, int r, int oversample = 10, int power_iters = 2, uint64_t seed = 0);

// Upper-triangular U with A = U^T U. Throws if A is not positive definite.
Mat cholesky_upper(const Mat& A);
// Inverse of a symmetric positive definite matrix via Cholesky.
Mat spd_inverse(const Mat& A);
// Inverse of an upper-triangular matrix (the strict lower triangle is ignored). Throws on a zero
// diagonal entry.
Mat upper_triangular_inverse(const Mat& R);

// In-place forms for n x n buffers too large to copy (GPTQ's H). Each reads and writes only the
// upper triangle (diagonal included) of a square A and leaves the strict lower triangle as it was,
// so a caller may keep something there; results are bit-identical to the copying forms above.
void cholesky_upper_in_place(Mat& A);           // upper := U with A = U^T U (potrf); throws as cholesky_upper
void cholesky_inverse_in_place(Mat& U);         // U upper Cholesky factor of A: upper := upper of A^-1 (potri)
void upper_triangular_inverse_in_place(Mat& R);  // upper := R^-1 (trtri); throws as upper_triangular_inverse
// The strict lower triangle := the transpose of the strict upper one (from_upper), or the reverse
// (from_lower); the diagonal is untouched.
void symmetrize_from_upper(Mat& A);
void symmetrize_from_lower(Mat& A);

// A^(1/2) and A^(-1/2) of a symmetric PSD matrix with eigenvalues clamped to >= eps (absolute) or
// >= eps * max eigenvalue (relative). `clamped` counts the eigenvalues raised.
struct Roots {
  Mat sqrt, inv_sqrt;
  int clamped = 0;
};
Roots sqrt_and_inv_sqrt(const Mat& A, double eps, bool relative);

}  // namespace hessq::linalg
