// SVDQuant (Li, Xie, Yang, ... Han 2024, arXiv:2411.05007) at layer level: after optional smoothing
// (smoothquant.hpp), W = L + R with L the rank-r truncated SVD of W; R is quantized and the branch
// runs in 16-bit (fp32 in simulation) on the unquantized input:
//   Y_hat = Q_x(X) Q_w(R)^T + (X A) B^T,  L = B A^T,  B = U_r S_r,  A = V_r.
// It is ARHQ's pipeline with G = I (arhq.hpp): the identity metric skips the eigendecomposition.
#pragma once
#include "hessq/methods/arhq.hpp"

namespace hessq::methods {

// opt.eps / eps_relative are unused (the identity needs no clamp).
ArhqResult solve_svdquant(const MatF& W, const ArhqOptions& opt);

}  // namespace hessq::methods
