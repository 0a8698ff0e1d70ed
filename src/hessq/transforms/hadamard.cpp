#include "hessq/transforms/hadamard.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hessq/core/error.hpp"
#include "hessq/transforms/galois_field.hpp"
#include "hessq/transforms/williamson.hpp"

namespace hessq::transforms {

namespace {

// Paley I needs q ≡ 3 (mod 4) (its Jacobsthal matrix is skew), Paley II q ≡ 1 (mod 4) (symmetric).
bool paley1_order(int b) { return b % 4 == 0 && prime_power(b - 1) && (b - 1) % 4 == 3; }
bool paley2_order(int b) { return b % 4 == 0 && prime_power(b / 2 - 1) && (b / 2 - 1) % 4 == 1; }

bool base_order(int b) {
  return b == 1 || (b <= kMaxHadamardBase && (paley1_order(b) || paley2_order(b) || williamson_order(b)));
}

std::string base_name(int b) {
  if (b == 1) return "1";
  if (paley1_order(b)) return fmt::format("paley1(q={})", b - 1);
  if (paley2_order(b)) return fmt::format("paley2(q={})", b / 2 - 1);
  return fmt::format("williamson(w={})", b / 4);
}

// Jacobsthal matrix Q[i][j] = chi(x_i - x_j) over GF(q).
Mat jacobsthal(int q) {
  GaloisField F(q);
  const std::vector<int> chi = F.quadratic_character();
  Mat Q(q, q);
  for (int i = 0; i < q; ++i)
    for (int j = 0; j < q; ++j) Q(i, j) = chi[F.sub(i, j)];
  return Q;
}

// Paley I: H = I + S, S = [[0, 1^T], [-1, Q]] skew with S S^T = q I, so H H^T = (q + 1) I.
Mat paley1(int q) {
  const Mat Q = jacobsthal(q);
  Mat H = Mat::Identity(q + 1, q + 1);
  for (int j = 1; j <= q; ++j) {
    H(0, j) += 1.0;
    H(j, 0) -= 1.0;
  }
  H.bottomRightCorner(q, q) += Q;
  return H;
}

// Paley II: the symmetric conference matrix C = [[0, 1^T], [1, Q]] with every 0 replaced by
// [[1, -1], [-1, -1]] and every ±1 by ±[[1, 1], [1, -1]].
Mat paley2(int q) {
  const Mat Q = jacobsthal(q);
  const int c = q + 1;
  Mat C = Mat::Ones(c, c);
  C(0, 0) = 0.0;
  C.bottomRightCorner(q, q) = Q;
  Mat H(2 * c, 2 * c);
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < c; ++j) {
      const double v = C(i, j);
      if (v == 0.0) {
        H.block<2, 2>(2 * i, 2 * j) << 1, -1, -1, -1;
      } else {
        H.block<2, 2>(2 * i, 2 * j) << v, v, v, -v;
      }
    }
  return H;
}

// H H^T == n I exactly: entries are ±1 and sums of n <= 2^20 integers are exact in double.
void verify(const Mat& H, const std::string& what) {
  const Eigen::Index n = H.rows();
  HESSQ_CHECK(H.cols() == n, "{}: Hadamard matrix is not square ({}x{})", what, H.rows(), H.cols());
  HESSQ_CHECK((H.array().abs() == 1.0).all(), "{}: Hadamard matrix of order {} has an entry other than ±1", what, n);
  const Mat G = H * H.transpose();
  HESSQ_CHECK(G == static_cast<double>(n) * Mat::Identity(n, n),
              "internal error: {} of order {} fails H H^T = n I (max deviation {})", what, n,
              (G - static_cast<double>(n) * Mat::Identity(n, n)).cwiseAbs().maxCoeff());
}

}  // namespace

std::optional<HadamardPlan> hadamard_plan(int n) {
  if (n < 1) return std::nullopt;
  int k_max = 0;
  while (n % (2 << k_max) == 0) ++k_max;
  for (int k = k_max; k >= 0; --k) {  // largest k first: the smallest base
    const int b = n >> k;
    if (base_order(b)) return HadamardPlan{n, k, b, base_name(b)};
  }
  return std::nullopt;
}

Mat hadamard_base(int b) {
  HESSQ_CHECK(base_order(b), "no known Hadamard construction of order {} ({})", b, hadamard_sizes_help());
  Mat H;
  if (b == 1) {
    H = Mat::Ones(1, 1);
  } else if (paley1_order(b)) {
    H = paley1(b - 1);
  } else if (paley2_order(b)) {
    H = paley2(b / 2 - 1);
  } else {
    H = williamson_hadamard(b / 4);
  }
  verify(H, base_name(b));
  return H;
}

std::optional<Mat> hadamard_matrix(int n) {
  auto plan = hadamard_plan(n);
  if (!plan) return std::nullopt;
  Mat H = hadamard_base(plan->b);
  for (int i = 0; i < plan->k; ++i) {  // Sylvester doubling: H <- [[H, H], [H, -H]]
    const Eigen::Index m = H.rows();
    Mat D(2 * m, 2 * m);
    D << H, H, H, -H;
    H = std::move(D);
  }
  if (plan->k > 0 && n <= 1024) verify(H, fmt::format("2^{} x {}", plan->k, plan->base));  // cheap enough
  return H;
}

std::vector<int> hadamard_base_orders(int max_b) {
  std::vector<int> out;
  for (int b = 2; b <= std::min(max_b, kMaxHadamardBase); ++b)
    if (base_order(b) && hadamard_plan(b)->b == b) out.push_back(b);  // skip 24 = 2 * 12 and the like
  return out;
}

std::string hadamard_sizes_help() {
  return fmt::format("supported sizes are n = 2^k * b with b in {{1, {}}}", fmt::join(hadamard_base_orders(), ", "));
}

}  // namespace hessq::transforms
