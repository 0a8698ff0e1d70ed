#include "hessq/core/random.hpp"
#include "hessq/transforms/orthogonal.hpp"

#include <cmath>

#include <fmt/format.h>

#include "hessq/core/error.hpp"
#include "hessq/transforms/hadamard.hpp"

namespace hessq::transforms {

namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Independent streams per purpose: FNV-1a of a tag mixed with the seed and the size.
uint64_t stream_seed(uint64_t seed, const char* tag, int n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char* c = tag; *c; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 0x100000001b3ull;
  uint64_t s = seed ^ h ^ (static_cast<uint64_t>(n) * 0x632be59bd9b4e019ull);
  splitmix64(s);
  return s;
}

// x (one row of 2^k blocks of b) <- scale * (H_{2^k} ⊗ I_b) applied from the right; see kernels/fwht.hpp.
void fwht_row(double* x, int k, int64_t b, double scale) {
  const int64_t n = b << k;
  for (int64_t h = b; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const double u = x[j], v = x[j + h];
        x[j] = u + v;
        x[j + h] = u - v;
      }
  if (scale != 1.0)
    for (int64_t j = 0; j < n; ++j) x[j] *= scale;
}

}  // namespace

const char* rotation_kind_name(RotationKind kind) {
  switch (kind) {
    case RotationKind::Hadamard: return "hadamard";
    case RotationKind::RandomOrthogonal: return "random-orthogonal";
    case RotationKind::Custom: return "custom";
  }
  return "?";
}

Mat Rotation::dense() const {
  RowMat Q = RowMat::Identity(n, n);
  apply_rows(Q.data(), n);  // I Q
  return Q;
}

void Rotation::apply_rows(double* X, int64_t rows) const {
  HESSQ_CHECK(B.rows() == B.cols() && (B.rows() << k) == n, "rotation of order {} has a {}x{} base and k = {}", n,
              B.rows(), B.cols(), k);
  const int64_t bb = B.rows(), blocks = int64_t{1} << k;
  const double scale = 1.0 / std::sqrt(static_cast<double>(blocks));
  constexpr int64_t kChunk = 64;  // rows per task: the result does not depend on the thread count
  const int64_t chunks = (rows + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (rows * n >= (int64_t{1} << 16))
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t r0 = c * kChunk, rc = std::min(rows, r0 + kChunk) - r0;
    double* Xc = X + r0 * n;
    // Step 1: every length-b block times B.
    if (bb > 1) {
      Eigen::Map<RowMat> blk(Xc, rc * blocks, bb);
      blk = blk * B;  // a product is evaluated into a temporary before assignment
    } else if (B(0, 0) != 1.0) {
      for (int64_t j = 0; j < rc * n; ++j) Xc[j] *= B(0, 0);
    }
    // Step 2: H_{2^k} / 2^(k/2) across the blocks. Step 3: column signs.
    for (int64_t r = 0; r < rc; ++r) {
      double* x = Xc + r * n;
      if (k > 0) fwht_row(x, k, bb, scale);
      if (!s.empty())
        for (int64_t j = 0; j < n; ++j) x[j] *= s[j];
    }
  }
}

Mat random_orthogonal(int n, uint64_t seed) {
  HESSQ_CHECK(n >= 1, "random_orthogonal: order must be >= 1, got {}", n);
  Mat G(n, n);
  uint64_t st = seed;
  for (Eigen::Index i = 0; i < G.size(); i += 2) {  // Box-Muller pairs, column-major fill
    const double u1 = (static_cast<double>(splitmix64(st) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(splitmix64(st) >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    G.data()[i] = r * std::cos(2 * M_PI * u2);
    if (i + 1 < G.size()) G.data()[i + 1] = r * std::sin(2 * M_PI * u2);
  }
  Eigen::HouseholderQR<Mat> qr(G);
  Mat Q = qr.householderQ() * Mat::Identity(n, n);
  for (int j = 0; j < n; ++j)  // sign fix: makes Q Haar-distributed and unique
    if (qr.matrixQR()(j, j) < 0) Q.col(j) = -Q.col(j);
  return Q;
}

Rotation make_rotation(int n, const RotationOptions& opt, const std::string& what) {
  HESSQ_CHECK(n >= 1, "{}: rotation order must be >= 1, got {}", what, n);
  Rotation R;
  R.n = n;
  if (auto plan = hadamard_plan(n)) {
    R.k = plan->k;
    R.B = hadamard_base(plan->b) / std::sqrt(static_cast<double>(plan->b));
    R.kind = RotationKind::Hadamard;
    R.construction = plan->b == 1 ? fmt::format("sylvester(2^{})", plan->k)
                     : plan->k ? fmt::format("2^{} x {}", plan->k, plan->base)
                               : plan->base;
  } else {
    HESSQ_CHECK(opt.allow_random_fallback,
                "{}: no Hadamard matrix of order {} is known ({}); enable the random orthogonal fallback to rotate it",
                what, n, hadamard_sizes_help());
    while (n % (2 << R.k) == 0) ++R.k;
    const int m = n >> R.k;  // odd, > 1
    R.B = random_orthogonal(m, stream_seed(opt.seed, "random-orthogonal", n));
    R.kind = RotationKind::RandomOrthogonal;
    R.construction =
        fmt::format("{}random-orthogonal({}, seed {})", R.k ? fmt::format("2^{} x ", R.k) : "", m, opt.seed);
  }
  if (opt.random_signs) {
    uint64_t st = stream_seed(opt.seed, "signs", n);
    R.s.resize(n);
    for (int j = 0; j < n; ++j) R.s[j] = (splitmix64(st) >> 63) ? -1 : 1;
    R.construction += fmt::format(" diag(signs, seed {})", opt.seed);
  }
  return R;
}

Rotation custom_rotation(Mat Q, const std::string& what) {
  HESSQ_CHECK(Q.rows() == Q.cols() && Q.rows() > 0, "{}: rotation must be square, got {}x{}", what, Q.rows(), Q.cols());
  const Eigen::Index n = Q.rows();
  // 1e-6: a rotation learned or stored in fp32 is orthogonal to about fp32 precision.
  const double err = (Q.transpose() * Q - Mat::Identity(n, n)).cwiseAbs().maxCoeff();
  HESSQ_CHECK(err <= 1e-6, "{}: rotation is not orthogonal (max |Q^T Q - I| = {:.3g})", what, err);
  Rotation R;
  R.n = static_cast<int>(n);
  R.B = std::move(Q);
  R.kind = RotationKind::Custom;
  R.construction = fmt::format("custom({})", n);
  return R;
}

}  // namespace hessq::transforms
