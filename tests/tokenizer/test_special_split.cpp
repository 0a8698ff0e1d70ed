#include "hessq/tokenizer/special_split.hpp"

#include <gtest/gtest.h>

namespace hessq::tokenizer {
namespace {

TEST(SpecialSplit, LeftmostThenLongest) {
  std::vector<SpecialToken> specials = {{"<a>", 1}, {"<a><b>", 2}, {"<b>", 3}};
  auto frags = split_specials("x<a><b>y<b><a>", specials);
  std::vector<std::pair<std::string, int>> got;
  for (const auto& f : frags) got.emplace_back(std::string(f.text), f.id);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int>>{{"x", -1}, {"<a><b>", 2}, {"y", -1}, {"<b>", 3}, {"<a>", 1}}));
  EXPECT_TRUE(split_specials("", specials).empty());
}

}  // namespace
}  // namespace hessq::tokenizer
