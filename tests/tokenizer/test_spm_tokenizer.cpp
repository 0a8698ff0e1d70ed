#include "hessq/tokenizer/spm_tokenizer.hpp"

#include <gtest/gtest.h>

#include "hessq/tokenizer/gguf_tokenizer.hpp"
#include "test_util.hpp"
#include "vocab_test_cases.hpp"

namespace hessq::tokenizer {
namespace {

const std::string kLlamaSpm = "vocab/llama-spm/ggml-vocab-llama-spm.gguf";

TEST(SpmTokenizer, MatchesLlamaCppVectors) {
  auto tok = load_gguf_tokenizer(test::shared_path(kLlamaSpm));
  ASSERT_NE(dynamic_cast<SpmTokenizer*>(tok.get()), nullptr);
  auto cases = test::read_vocab_cases(test::shared_path(kLlamaSpm));
  ASSERT_EQ(cases.size(), 46u);
  for (const auto& c : cases) {
    EXPECT_EQ(tok->encode(c.text, false), c.ids) << "text: \"" << c.text << "\"";
  }
}

TEST(SpmTokenizer, DecodeRoundTripsTheVectors) {
  auto tok = load_gguf_tokenizer(test::shared_path(kLlamaSpm));
  for (const auto& c : test::read_vocab_cases(test::shared_path(kLlamaSpm))) {
    EXPECT_EQ(tok->decode(tok->encode(c.text, true)), c.text);
    EXPECT_EQ(tok->decode(c.ids), c.text);
  }
}

TEST(SpmTokenizer, SpecialIdsAndBos) {
  auto tok = load_gguf_tokenizer(test::shared_path(kLlamaSpm));
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->encode("", true), std::vector<int>{1});
  EXPECT_EQ(tok->encode("", false), std::vector<int>{});
  EXPECT_EQ(tok->encode("Hello world", true), (std::vector<int>{1, 15043, 3186}));
  EXPECT_EQ(tok->decode_piece(1, 2), "");  // control tokens decode to nothing
}

TEST(SpmTokenizer, UserDefinedPiecesAndFallbacks) {
  const std::string sp = "\xe2\x96\x81";  // U+2581
  SpmConfig c;
  c.vocab = ScoredVocab({"<unk>", "<s>", "</s>", sp, "a", "b", sp + "a", "<user>", "<0x63>"},
                        {0, 0, 0, -1, -2, -3, 1, 0, 0});
  c.types = {2, 3, 3, 1, 1, 1, 1, 4, 6};
  SpmTokenizer tok(std::move(c));
  // "<user>" is matched literally and followed by a new dummy prefix; 'c' falls back to its byte
  // piece, 'd' (no byte piece) to <unk>.
  EXPECT_EQ(tok.encode("a<user>bc", true), (std::vector<int>{1, 6, 7, 3, 5, 8}));
  EXPECT_EQ(tok.encode("d", false), (std::vector<int>{3, 0}));
  EXPECT_EQ(tok.decode_piece(-1, 6), "a");
  EXPECT_EQ(tok.decode_piece(4, 6), " a");
  EXPECT_EQ(tok.decode_piece(4, 7), "<user>");
  EXPECT_EQ(tok.decode_piece(4, 8), "c");
  EXPECT_EQ(tok.decode_piece(4, 0), " \xe2\x81\x87 ");  // <unk> renders as SentencePiece does
}

}  // namespace
}  // namespace hessq::tokenizer
