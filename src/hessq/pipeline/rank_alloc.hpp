// Branch rank allocation for a whole model (METHODS.md "ARHQ", going beyond the paper (b)): a rank-r
// branch on an [m, n] linear costs r (m + n) parameters; under the global budget rank * sum(m + n)
// over every block linear, choose one rank per linear minimizing the summed relative output noise
// ||Y_hat - Y||^2 / ||Y||^2 on calibration tokens (methods/rank_allocation.hpp: greedy by marginal
// gain per parameter; [choice] this score rather than mean dB, see there).
// Curves: for each linear, the relative noise on the sampled calibration tokens of
//   Q_x(X / s) Q_w(W_s - L_r)^T + (X / s A_r) B_r^T     vs X W^T   (RTN residual)
// at the grid ranks {0} + rank * {1/4, 1/2, 3/4, 1, 3/2, 2, 3, 4} below min(m, n), L_r the prefixes of
// one exact solve. [choice] the curves come from the float (rotated) model's inputs, one pass over
// the blocks before the sequential quantization: the allocation must see every linear before the
// first is solved.
#pragma once
#include <optional>
#include <vector>

#include "hessq/methods/arhq.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/methods/rank_allocation.hpp"
#include "hessq/pipeline/recipe.hpp"

namespace hessq::pipeline {

// The grid for budget rank r0 and a linear with min(m, n) = limit (ascending, starts at 0).
std::vector<int> rank_grid(int r0, int64_t limit);

// One linear's curve: W [m, n] unsmoothed, s its smoothing vector (if any), metric (nullptr: identity),
// X [N', n] sampled calibration rows before smoothing.
methods::RankCurve rank_curve(const methods::MatF& W, const std::optional<methods::VecF>& s,
                              const methods::Metric* metric, const methods::MatF& X, const Recipe& r,
                              const std::vector<int>& grid);

}  // namespace hessq::pipeline
