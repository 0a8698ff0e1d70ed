// Fast Walsh-Hadamard transform (FWHT), the O(n log n) half of an online Hadamard rotation
// (QuaRot, Ashkboos et al. 2024, arXiv:2404.00456). A row of length n = 2^k * b is seen as a matrix
// X [2^k, b] (row-major) and replaced by scale * H_{2^k} X, H_{2^k} the unnormalized Sylvester
// Hadamard matrix (H_1 = [1], H_{2j} = [[H_j, H_j], [H_j, -H_j]]). As a product with the row vector x:
//   x <- scale * x (H_{2^k} ⊗ I_b),
// so with b = 1 it is the plain FWHT, and a dense b x b factor applied to each length-b block before
// or after completes (H_{2^k} ⊗ H_b) (model/hadamard_linear.hpp). k passes of n/2 butterflies.
#pragma once
#include <cstdint>

#include "hessq/kernels/cpu_isa.hpp"

namespace hessq::kernels {

// x: [rows, 2^k * b], row-major, transformed in place. k in [0, 30], b >= 1. Rows are split across
// OpenMP threads when the work is large. Avx512 runs the AVX2 path.
void fwht_f32(float* x, int64_t rows, int k, int64_t b, float scale, Isa isa = best_isa());

}  // namespace hessq::kernels
