#include "hessq/tokenizer/bpe_tokenizer.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "hessq/tokenizer/gguf_tokenizer.hpp"
#include "test_util.hpp"
#include "vocab_test_cases.hpp"

namespace hessq::tokenizer {
namespace {

const std::string kGpt2 = "vocab/gpt-2/ggml-vocab-gpt-2.gguf";

TEST(BpeTokenizer, MatchesLlamaCppGpt2Vectors) {
  auto tok = load_gguf_tokenizer(test::shared_path(kGpt2));
  ASSERT_NE(dynamic_cast<BpeTokenizer*>(tok.get()), nullptr);
  auto cases = test::read_vocab_cases(test::shared_path(kGpt2));
  ASSERT_EQ(cases.size(), 46u);
  for (const auto& c : cases) {
    EXPECT_EQ(tok->encode(c.text, false), c.ids) << "text: \"" << c.text << "\"";
  }
}

TEST(BpeTokenizer, DecodeRoundTripsTheVectors) {
  auto tok = load_gguf_tokenizer(test::shared_path(kGpt2));
  for (const auto& c : test::read_vocab_cases(test::shared_path(kGpt2))) {
    EXPECT_EQ(tok->decode(c.ids), c.text);
  }
}

TEST(BpeTokenizer, MergesLowestRankFirstLeftmostOnTies) {
  auto make = [](bool ignore_merges) {
    BpeConfig c;
    c.tokens = {"a", "b", "ab", "ba", "aba", "<s>"};
    c.merges = {{"a", "b"}, {"b", "a"}};  // no pre-tokenizer patterns: the text is one word
    c.added = {{"<s>", 5, true}};
    c.bos_id = 5;
    c.ignore_merges = ignore_merges;
    return BpeTokenizer(std::move(c));
  };
  BpeTokenizer tok = make(false);
  EXPECT_EQ(tok.encode("aba", false), (std::vector<int>{2, 0}));      // "ab" (rank 0) before "ba"
  EXPECT_EQ(tok.encode("bab", false), (std::vector<int>{1, 2}));      // rank beats position
  EXPECT_EQ(tok.encode("abab", true), (std::vector<int>{5, 2, 2}));   // ties: leftmost first
  EXPECT_EQ(tok.encode("a<s>b", false), (std::vector<int>{0, 5, 1}));  // added tokens split words
  EXPECT_EQ(tok.decode({5, 2, 3}), "abba");                            // control tokens decode to ""
  EXPECT_EQ(make(true).encode("aba", false), std::vector<int>{4});     // whole-word tokens first
}

TEST(BpeTokenizer, EncodesWikitextQuickly) {
  auto tok = load_gguf_tokenizer(test::shared_path(kGpt2));
  std::string text = test::read_all(test::shared_path("data/wikitext-2/wiki.test.raw"));
  auto t0 = std::chrono::steady_clock::now();
  auto ids = tok->encode(text, true);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 3.0);
  EXPECT_EQ(ids[0], 50256);               // BOS = <|endoftext|>, a control token
  EXPECT_EQ(tok->decode(ids), text);      // which decodes to nothing
  std::printf("wiki.test.raw: %zu bytes -> %zu tokens in %.3f s\n", text.size(), ids.size(), s);
}

}  // namespace
}  // namespace hessq::tokenizer
