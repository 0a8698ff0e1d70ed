// Rotation: an orthogonal n x n matrix kept in the factored form QuaRot uses (Ashkboos et al. 2024,
// arXiv:2404.00456), so applying it costs n (b + k) per row instead of n^2:
//   Q = ((H_{2^k} / 2^(k/2)) ⊗ B) diag(s),    n = 2^k * b,
// H_{2^k} Sylvester's Hadamard matrix, B [b, b] orthogonal, s ±1 column signs (QuaRot's randomized
// Hadamard H diag(s); empty = no signs).
//   - kind Hadamard: B = H_b / sqrt(b) from a known construction (transforms/hadamard.hpp).
//   - kind RandomOrthogonal, the documented fallback for sizes without a known Hadamard matrix:
//     n = 2^k * m with m odd, B a seeded Haar-random orthogonal m x m matrix (QR of a seeded Gaussian
//     matrix, sign-fixed so that R has a positive diagonal). Still a dense, incoherent rotation, and
//     cheap online. Identical bytes for identical (n, seed).
//   - kind Custom: any orthogonal Q given densely (k = 0, B = Q), e.g. a learned rotation (HeRo-Q).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hessq/linalg/linalg.hpp"

namespace hessq::transforms {

using linalg::Mat;

enum class RotationKind { Hadamard, RandomOrthogonal, Custom };
const char* rotation_kind_name(RotationKind kind);  // "hadamard", "random-orthogonal", "custom"

struct Rotation {
  int n = 0;
  int k = 0;                 // log2 of the Sylvester factor
  Mat B;                     // [b, b], orthogonal, b = n >> k
  std::vector<int8_t> s;     // [n] ±1 column signs, or empty
  RotationKind kind = RotationKind::Hadamard;
  std::string construction;  // "2^6 x paley1(q=11)", "2^2 x random-orthogonal(43, seed 7)", ...

  int b() const { return static_cast<int>(B.rows()); }
  Mat dense() const;  // Q [n, n]
  // X [rows, n], row-major: X <- X Q, in double (rows are independent; OpenMP over row chunks).
  void apply_rows(double* X, int64_t rows) const;
};

struct RotationOptions {
  bool random_signs = false;  // Q = H diag(s), s drawn from `seed`
  uint64_t seed = 0;          // signs and the random-orthogonal fallback
  bool allow_random_fallback = true;
};

// The normalized Hadamard rotation of order n, or the random-orthogonal fallback where no Hadamard
// matrix is known (if allowed; else throws naming `what`, e.g. "hidden_dim", and n, and listing the
// supported sizes).
Rotation make_rotation(int n, const RotationOptions& opt, const std::string& what);
// Q given densely ([n, n], orthogonal within 1e-6, else throws naming `what`).
Rotation custom_rotation(Mat Q, const std::string& what);
// A seeded Haar-random orthogonal matrix [n, n]: QR of a splitmix64/Box-Muller Gaussian matrix, the
// columns of Q multiplied by sign(R_ii).
Mat random_orthogonal(int n, uint64_t seed);

}  // namespace hessq::transforms
