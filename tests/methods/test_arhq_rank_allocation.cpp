// ARHQ (b) rank allocation (methods/rank_allocation.hpp): budget respected, optimal against brute
// force on small concave problems, identical linears share the budget evenly, bad curves rejected.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "hessq/core/error.hpp"
#include "hessq/methods/rank_allocation.hpp"

namespace hessq {
namespace {

using methods::RankCurve;

// Concave SNR(r) = a * log(1 + r / b) on the grid 0..8 step 2.
RankCurve concave(double a, double b, int64_t cost) {
  RankCurve c;
  c.cost_per_rank = cost;
  for (int r = 0; r <= 8; r += 2) {
    c.ranks.push_back(r);
    c.score.push_back(a * std::log1p(r / b));
  }
  return c;
}

double total(const std::vector<RankCurve>& cs, const std::vector<int>& ranks) {
  double s = 0;
  for (size_t i = 0; i < cs.size(); ++i)
    for (size_t k = 0; k < cs[i].ranks.size(); ++k)
      if (cs[i].ranks[k] == ranks[i]) s += cs[i].score[k];
  return s;
}

TEST(RankAllocation, MatchesBruteForceOnConcaveCurvesWithEqualCosts) {
  // Equal costs and concave curves: greedy by marginal gain is optimal (exchange argument).
  const std::vector<RankCurve> cs = {concave(3, 1, 10), concave(1, 4, 10), concave(2, 2, 10)};
  for (int64_t budget : {0, 40, 80, 120, 200, 240}) {
    const auto a = methods::allocate_ranks(cs, budget);
    EXPECT_LE(a.used, budget);
    double best = -1;
    std::function<void(size_t, std::vector<int>&, int64_t)> rec = [&](size_t i, std::vector<int>& pick, int64_t used) {
      if (i == cs.size()) {
        best = std::max(best, total(cs, pick));
        return;
      }
      for (int r : cs[i].ranks)
        if (used + r * cs[i].cost_per_rank <= budget) {
          pick.push_back(r);
          rec(i + 1, pick, used + r * cs[i].cost_per_rank);
          pick.pop_back();
        }
    };
    std::vector<int> pick;
    rec(0, pick, 0);
    EXPECT_NEAR(total(cs, a.ranks), best, 1e-12) << "budget " << budget;
  }
}

TEST(RankAllocation, IdenticalLinearsGetTheUniformRank) {
  const std::vector<RankCurve> cs(4, concave(2, 3, 7));
  const auto a = methods::allocate_ranks(cs, 4 * 4 * 7);  // the uniform rank-4 budget
  for (int r : a.ranks) EXPECT_EQ(r, 4);
  EXPECT_EQ(a.used, a.budget);
}

TEST(RankAllocation, LookAheadJumpsOverAFlatStretch) {
  RankCurve c;
  c.cost_per_rank = 1;
  c.ranks = {0, 2, 4};
  c.score = {0, 0, 5};  // nothing until rank 4
  const auto a = methods::allocate_ranks({c}, 4);
  EXPECT_EQ(a.ranks[0], 4);
}

TEST(RankAllocation, BadCurvesThrow) {
  RankCurve c = concave(1, 1, 5);
  RankCurve unsorted = c;
  std::swap(unsorted.ranks[1], unsorted.ranks[2]);
  EXPECT_THROW(methods::allocate_ranks({unsorted}, 100), Error);
  RankCurve nan = c;
  nan.score[1] = std::nan("");
  EXPECT_THROW(methods::allocate_ranks({nan}, 100), Error);
  RankCurve start = c;
  start.ranks[0] = 1;
  EXPECT_THROW(methods::allocate_ranks({start}, 0), Error);  // the starting rank alone is over budget
}

}  // namespace
}  // namespace hessq
