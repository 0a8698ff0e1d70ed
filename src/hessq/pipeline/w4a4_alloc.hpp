// ARHQ / SVDQuant rank allocation for a whole model (METHODS.md "ARHQ", going beyond the paper (b)):
// a rank-r branch on an [m, n] linear costs r (m + n) parameters; under the global budget
// rank * sum(m + n) over every block linear, choose one rank per linear minimizing the summed
// relative output noise ||Y_hat - Y||^2 / ||Y||^2 on calibration tokens (methods/rank_allocation.hpp:
// greedy by marginal gain per parameter; [choice] this score rather than mean dB, see there).
// Curves: for each linear, the relative noise on the sampled calibration tokens of
//   Q_x(X / s) Q_w(W_s - L_r)^T + (X / s A_r) B_r^T     vs X W^T   (RTN residual)
// at the grid ranks {0} + rank * {1/4, 1/2, 3/4, 1, 3/2, 2, 3, 4} below min(m, n), L_r the prefixes of
// one exact solve. [choice] the curves come from the float (rotated) model's inputs, one pass over
// the blocks before the sequential quantization: the allocation must see every linear before the
// first is solved.
#pragma once
#include <array>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/calib/windows.hpp"
#include "hessq/model/model.hpp"
#include "hessq/pipeline/w4a4_config.hpp"

namespace hessq::pipeline {

// Ranks by layer and model::Proj index. `report`: budget, used, grid and the chosen ranks.
std::vector<std::array<int, 7>> allocate_w4a4_ranks(const model::Model& float_model, const calib::Windows& windows,
                                                    const W4a4Config& c, nlohmann::ordered_json& report);

// The grid for budget rank r0 and a linear with min(m, n) = limit (ascending, starts at 0).
std::vector<int> w4a4_rank_grid(int r0, int64_t limit);

}  // namespace hessq::pipeline
