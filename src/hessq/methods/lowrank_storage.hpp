// Storing a low-rank branch L = B A^T (SVDQuant, Li et al. 2024, arXiv:2411.05007; ARHQ, METHODS.md)
// in 16 bits, as the branch runs in deployment. The factors are only defined up to a per-column
// scale (B_i c, A_i / c leaves L unchanged), and ARHQ's A = G^(-1/2) V_r can be large where G is
// small, so the columns are balanced first and then rounded:
//   1. c_i = sqrt(||A_i|| / ||B_i||),  B_i <- B_i c_i,  A_i <- A_i / c_i  (both norms sqrt(||A_i|| ||B_i||));
//   2. every entry rounded to the nearest f16 (round to nearest even).
// The caller then forms W_res = W - B A^T from the *rounded* factors, so W_res + L reproduces W up
// to fp32 rounding and the stored model runs exactly what was solved.
// [choice] f16 (default) or f32 storage (LowRankStorage); an entry beyond the f16 range is an error
// naming the layer (use f32 storage), never a silent inf.
#pragma once
#include <string>

#include "hessq/methods/common.hpp"

namespace hessq::methods {

enum class LowRankStorage { F16, F32 };
const char* lowrank_storage_name(LowRankStorage s);  // "F16", "F32" (safetensors dtype names)

// Step 1, in place. A: [n, r], B: [m, r]. Zero columns are left as they are.
void balance_lowrank(MatF& A, MatF& B);

// Steps 1-2 for F16 (step 1 only for F32, which needs no rounding). Throws naming `what` if an
// entry overflows f16 after balancing.
void prepare_lowrank_storage(MatF& A, MatF& B, LowRankStorage s, const std::string& what);

}  // namespace hessq::methods
