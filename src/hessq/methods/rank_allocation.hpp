// ARHQ, going beyond the paper (b): per-layer rank allocation under a global budget of extra
// parameters (METHODS.md "ARHQ"). A rank-r branch on an [m, n] linear costs r (m + n) parameters.
// Given, for every linear, a score at a grid of ranks (measured on calibration tokens; higher is
// better), choose one grid rank per linear so that the total cost stays within the budget (the
// uniform-rank budget sum_i r0 (m_i + n_i) in the SNR study) and the sum of scores is as large as
// possible.
// [choice] the score: the SNR study offers "nsr" (default: score = -||Y_hat - Y||^2 / ||Y||^2, the
//   sum of each linear's relative output noise) and "db" (score = SNR in dB, the mean layer SNR). Mean
//   dB rewards pushing cheap linears towards full rank (their SNR grows without bound) while starving
//   others, so it can raise the mean dB while the mean relative noise gets worse; reports show both.
// [choice] greedy by marginal gain per parameter with look-ahead: at each step, over all linears and
//   all larger grid ranks that fit the remaining budget, take the move with the largest
//   (score(r') - score(r)) / ((r' - r)(m + n)); stop when no move fits or none gains. The look-ahead
//   lets a linear jump over a non-concave stretch of its curve. Ties go to the lower linear index.
#pragma once
#include <cstdint>
#include <vector>

namespace hessq::methods {

struct RankCurve {
  int64_t cost_per_rank = 0;  // m + n
  std::vector<int> ranks;     // ascending grid, ranks[0] is the starting point (usually 0)
  std::vector<double> score;  // objective at each grid rank (higher is better)
};

struct RankAllocation {
  std::vector<int> ranks;  // chosen rank per curve
  int64_t budget = 0;
  int64_t used = 0;        // sum of ranks[i] * cost_per_rank
};

// Throws if a curve is empty, unsorted, has non-finite scores, or its starting points exceed the budget.
RankAllocation allocate_ranks(const std::vector<RankCurve>& curves, int64_t budget);

}  // namespace hessq::methods
