#include "hessq/tokenizer/regex_split.hpp"

#include <gtest/gtest.h>

#include "hessq/core/error.hpp"

namespace hessq::tokenizer {
namespace {

std::vector<std::string> split(const std::string& preset, std::string_view text) {
  RegexSplitter s(pretokenizer_patterns(preset));
  auto pieces = s.split(text);
  return std::vector<std::string>(pieces.begin(), pieces.end());
}

using Pieces = std::vector<std::string>;

TEST(RegexSplit, Gpt2) {
  EXPECT_EQ(split("gpt2", "Hello world's 12345  !!\n"),
            (Pieces{"Hello", " world", "'s", " 12345", " ", " !!", "\n"}));
  EXPECT_EQ(split("gpt-2", "a\tb"), (Pieces{"a", "\t", "b"}));
  EXPECT_EQ(split("gpt2", ""), Pieces{});
}

TEST(RegexSplit, Llama3GroupsDigitsByThreeAndIgnoresCase) {
  EXPECT_EQ(split("llama3", "I'VE 1234567 apples\n\n"), (Pieces{"I", "'VE", " ", "123", "456", "7", " apples", "\n\n"}));
}

TEST(RegexSplit, Qwen2SplitsDigitsOneByOne) {
  EXPECT_EQ(split("qwen2", "x=123"), (Pieces{"x", "=", "1", "2", "3"}));
}

TEST(RegexSplit, SmolLmSplitsDigitsThenGpt2) {
  EXPECT_EQ(split("smollm", "ab12 cd"), (Pieces{"ab", "1", "2", " cd"}));
}

TEST(RegexSplit, InvalidUtf8IsKeptNotDropped) {
  std::string text = "ok\xff\xfe bad \xc3";
  std::string joined;
  for (const auto& p : split("gpt2", text)) joined += p;
  EXPECT_EQ(joined, text);
}

TEST(RegexSplit, BadPatternOrPresetIsAnError) {
  EXPECT_THROW(RegexSplitter({"(unclosed"}), Error);
  EXPECT_THROW(pretokenizer_patterns("no-such-pre"), Error);
}

}  // namespace
}  // namespace hessq::tokenizer
