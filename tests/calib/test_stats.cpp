// calib::Stats::add with a token weight: XtX gains weight * X^T X (checked against a naive sum of
// outer products), while N, absmax and abssum count each token once; weight 1 is the plain add.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "hessq/calib/stats.hpp"
#include "hessq/core/error.hpp"

namespace hessq::calib {
namespace {

TEST(Stats, WeightedTokensScaleOnlyXtX) {
  const int64_t n = 3;
  const std::vector<float> first = {4, -1, 0.5f}, rest = {1, 2, -3, 0.25f, -0.5f, 2};  // 1 + 2 tokens
  Stats s(n);
  s.add(first.data(), 1, n, 5.0);
  s.add(rest.data(), 2, n);
  linalg::Mat ref = linalg::Mat::Zero(n, n);  // naive: 5 x0 x0^T + x1 x1^T + x2 x2^T
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b)
      ref(a, b) = 5.0 * first[a] * first[b] + rest[a] * rest[b] + rest[n + a] * rest[n + b];
  // Sums of three double products of small floats: exact up to double rounding.
  EXPECT_LT((s.XtX - ref).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_EQ(s.N, 3);
  EXPECT_EQ(s.absmax[0], 4.0);
  EXPECT_DOUBLE_EQ(s.abssum[2], 0.5 + 3 + 2);

  Stats plain(n), one(n);
  plain.add(rest.data(), 2, n);
  one.add(rest.data(), 2, n, 1.0);
  EXPECT_EQ(plain.XtX, one.XtX);
  EXPECT_THROW(one.add(rest.data(), 2, n, -1.0), Error);
}

}  // namespace
}  // namespace hessq::calib
