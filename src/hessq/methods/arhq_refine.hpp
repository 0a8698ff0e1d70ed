// ARHQ, going beyond the paper (a): quantization-aware refinement of the branch (METHODS.md "ARHQ").
// Plain ARHQ ignores the weight quantization error. The true layer error on calibration tokens is
//   D(L) = X W^T - Q_x(X) Q_w(W - L)^T - X L^T.
// Fixed-point iteration: hold R_q = Q_w(W - L_k) fixed; then D is affine in L and
//   ||D||^2 = N tr((L - L_ls) H (L - L_ls)^T) + const,  H = X^T X / N,
//   L_ls = (W - R_q) + R_q C H^-1,  C = E^T X / N,  E = X - Q_x(X),
// so L_{k+1} = the rank-r minimizer in the metric H (ARHQ's solver with G -> H, W -> L_ls).
// [choice] iterations: RefineOptions::iters (default 3); the iterate with the smallest calibration
//   error ||D||^2 is kept (iteration 0 = plain ARHQ), so the result is never worse on calibration.
// [choice] H is clamped like G (relative 1e-6 by default); when N < n it is singular and the
//   refinement can overfit the calibration tokens; the held-out SNR reports that.
#pragma once
#include <vector>

#include "hessq/methods/arhq.hpp"
#include "hessq/methods/layer_quant.hpp"

namespace hessq::methods {

struct RefineOptions {
  int iters = 3;
  ArhqOptions lowrank;  // eps / eps_relative for H, SVD kind; rank is taken from the initial solution
};

struct RefineResult {
  ArhqResult best;                // A, B, W_res of the kept iterate (time: the whole refinement)
  std::vector<double> cal_noise;  // ||D(L_k)||_F^2 for k = 0 (the initial L) .. iters
  int best_iter = 0;
  double seconds = 0;
};

// `X_calib` [N, n] are the tokens the refinement fits; `init` is the plain ARHQ solution (any rank).
RefineResult refine_arhq(const MatF& W, const MatF& X_calib, const LayerFormat& f, const ArhqResult& init,
                         const RefineOptions& opt);

}  // namespace hessq::methods
