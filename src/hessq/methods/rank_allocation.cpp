#include "hessq/methods/rank_allocation.hpp"

#include <cmath>

#include "hessq/core/error.hpp"

namespace hessq::methods {

RankAllocation allocate_ranks(const std::vector<RankCurve>& curves, int64_t budget) {
  RankAllocation a;
  a.budget = budget;
  std::vector<size_t> at(curves.size(), 0);  // current grid index per curve
  for (size_t i = 0; i < curves.size(); ++i) {
    const RankCurve& c = curves[i];
    HESSQ_CHECK(!c.ranks.empty() && c.ranks.size() == c.score.size(),
                "rank allocation: curve {} has {} ranks and {} scores", i, c.ranks.size(), c.score.size());
    HESSQ_CHECK(c.cost_per_rank > 0, "rank allocation: curve {} has cost {} per rank", i, c.cost_per_rank);
    for (size_t k = 0; k < c.ranks.size(); ++k) {
      HESSQ_CHECK(std::isfinite(c.score[k]), "rank allocation: curve {} has a non-finite score at rank {}", i,
                  c.ranks[k]);
      HESSQ_CHECK(k == 0 || c.ranks[k] > c.ranks[k - 1], "rank allocation: curve {} ranks are not ascending", i);
    }
    a.used += c.ranks[0] * c.cost_per_rank;
  }
  HESSQ_CHECK(a.used <= budget, "rank allocation: the starting ranks cost {} parameters, over the budget {}", a.used,
              budget);
  for (;;) {
    double best_rate = 0;
    size_t best_i = curves.size(), best_k = 0;
    for (size_t i = 0; i < curves.size(); ++i) {
      const RankCurve& c = curves[i];
      for (size_t k = at[i] + 1; k < c.ranks.size(); ++k) {
        const int64_t extra = (c.ranks[k] - c.ranks[at[i]]) * c.cost_per_rank;
        if (a.used + extra > budget) break;  // ranks ascend: larger ones cost more
        const double rate = (c.score[k] - c.score[at[i]]) / static_cast<double>(extra);
        if (rate > best_rate) {
          best_rate = rate;
          best_i = i;
          best_k = k;
        }
      }
    }
    if (best_i == curves.size()) break;
    const RankCurve& c = curves[best_i];
    a.used += (c.ranks[best_k] - c.ranks[at[best_i]]) * c.cost_per_rank;
    at[best_i] = best_k;
  }
  for (size_t i = 0; i < curves.size(); ++i) a.ranks.push_back(curves[i].ranks[at[i]]);
  return a;
}

}  // namespace hessq::methods
