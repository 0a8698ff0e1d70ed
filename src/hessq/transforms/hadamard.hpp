// Hadamard matrices: H [n, n] with entries ±1 and H H^T = n I, for the rotations of QuaRot (Ashkboos
// et al. 2024, arXiv:2404.00456), which multiplies non-power-of-two sizes as H_{2^k} ⊗ H_b.
//
// Every order n = 2^k * b is built by Sylvester doubling of a base matrix H_b
// (H_{2j} = [[H_j, H_j], [H_j, -H_j]], so H_n = H_{2^k} ⊗ H_b), the base coming from
//   b = 1                               Sylvester alone;
//   b = q + 1, q ≡ 3 (mod 4)            Paley I  (q a prime power: 12, 20, 28 = 27 + 1 over GF(27), 44,
//                                                 60, 68, 84, 108, 140, ...);
//   b = 2(q + 1), q ≡ 1 (mod 4)         Paley II (36, 52 = 2(25 + 1) over GF(25), 76, 100, 124, 148, ...);
//   b = 4w, w in williamson_orders()     Williamson (symmetric circulant A, B, C, D of order w with
//                                        A^2 + B^2 + C^2 + D^2 = 4w I: 156 = 4 * 39, 172 = 4 * 43;
//                                        transforms/williamson.hpp),
// with b <= kMaxHadamardBase. 40 = 2 * 20 and the like come from doubling. [choice] Where several
// decompositions exist the smallest base b wins (cheapest online transform: n (b + k) per token).
// Every base is verified when built (H H^T == b I exactly; a failure is a bug and throws); doubling
// preserves the property (checked again for n <= 1024).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "hessq/linalg/linalg.hpp"

namespace hessq::transforms {

using linalg::Mat;

// Larger bases would make the online transform dense-like (cost n b) and their check O(b^3).
inline constexpr int kMaxHadamardBase = 512;

// How H_n is built: n = 2^k * b.
struct HadamardPlan {
  int n = 0;
  int k = 0;
  int b = 1;
  std::string base;  // "1", "paley1(q=11)", "paley2(q=25)", "williamson(w=43)"
};

// The plan with the smallest known base for n, or nullopt if no construction above covers n.
std::optional<HadamardPlan> hadamard_plan(int n);
// H_b, ±1 entries, verified. Throws if b is not a known base order.
Mat hadamard_base(int b);
// H_n = H_{2^k} ⊗ H_b (±1 entries, unnormalized), verified; nullopt if n has no known construction.
std::optional<Mat> hadamard_matrix(int n);
// The known base orders 1 < b <= max_b that are not 2^j times a smaller one, ascending.
std::vector<int> hadamard_base_orders(int max_b = kMaxHadamardBase);
// "n = 2^k * b with b in {1, 12, 20, ...}", for error messages.
std::string hadamard_sizes_help();

}  // namespace hessq::transforms
