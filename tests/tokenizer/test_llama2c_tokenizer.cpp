#include "hessq/tokenizer/llama2c_tokenizer.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "hessq/core/error.hpp"
#include "test_util.hpp"
#include "vocab_test_cases.hpp"

namespace hessq::tokenizer {
namespace {

TEST(Llama2cTokenizer, LoadsStoriesVocabulary) {
  auto tok = Llama2cTokenizer::load(test::stories_tok());
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->piece(3), "<0x00>");
  EXPECT_EQ(Llama2cTokenizer::load(test::shared_path("vocab/llama2/tokenizer.bin"))->vocab_size(), 32000);
}

TEST(Llama2cTokenizer, EncodesLikeRunC) {
  auto tok = Llama2cTokenizer::load(test::stories_tok());
  EXPECT_EQ(tok->encode("Once upon a time", true), (std::vector<int>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok->encode("", true), std::vector<int>{1});
  EXPECT_EQ(tok->encode("", false), std::vector<int>{});
  // Characters outside the 512-token vocabulary fall back to bytes (id = byte + 3).
  std::vector<int> ids = tok->encode("\xe4\xb8\xad", false);  // U+4E2D
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(std::vector<int>(ids.end() - 3, ids.end()), (std::vector<int>{0xe4 + 3, 0xb8 + 3, 0xad + 3}));
}

// run.c's `encode`, transcribed: the quadratic loop the priority-queue merge must reproduce.
std::vector<int> run_c_encode(const Llama2cTokenizer& tok, const std::string& text) {
  std::map<std::string, int> ids;
  for (int i = 0; i < tok.vocab_size(); ++i) ids.emplace(tok.piece(i), i);
  auto lookup = [&](const std::string& s) { auto it = ids.find(s); return it == ids.end() ? -1 : it->second; };
  std::vector<int> tokens;
  if (!text.empty()) tokens.push_back(lookup(" "));
  std::string buf;
  for (size_t i = 0; i < text.size(); ++i) {
    buf += text[i];
    bool next_is_continuation = i + 1 < text.size() && (text[i + 1] & 0xC0) == 0x80 && buf.size() < 4;
    if (next_is_continuation) continue;
    int id = lookup(buf);
    if (id != -1) tokens.push_back(id);
    else for (char c : buf) tokens.push_back(static_cast<unsigned char>(c) + 3);
    buf.clear();
  }
  while (true) {
    float best_score = -1e10f;
    int best_id = -1, best_idx = -1;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      int id = lookup(tok.piece(tokens[i]) + tok.piece(tokens[i + 1]));
      if (id != -1 && tok.score(id) > best_score) {
        best_score = tok.score(id);
        best_id = id;
        best_idx = static_cast<int>(i);
      }
    }
    if (best_idx == -1) break;
    tokens[best_idx] = best_id;
    tokens.erase(tokens.begin() + best_idx + 1);
  }
  return tokens;
}

TEST(Llama2cTokenizer, MatchesRunCReferenceLoop) {
  auto tok = Llama2cTokenizer::load(test::stories_tok());
  std::istringstream stories(test::read_all(test::shared_path("data/tinystories/tinystories_validation_head.txt")));
  std::string line;
  for (int i = 0; i < 40 && std::getline(stories, line); ++i) {
    EXPECT_EQ(tok->encode(line, false), run_c_encode(*tok, line)) << "text: " << line;
  }
  for (const std::string text : {"a\xe2\x82\xac\xe4\xb8\xad", "  x  y  ", "\n\n\t"}) {
    EXPECT_EQ(tok->encode(text, false), run_c_encode(*tok, text)) << "text: " << text;
  }
}

TEST(Llama2cTokenizer, DecodeRoundTrips) {
  auto tok = Llama2cTokenizer::load(test::stories_tok());
  std::string stories = test::read_all(test::shared_path("data/tinystories/tinystories_validation_head.txt"));
  const std::vector<std::string> texts = {
      "Once upon a time", " leading space", "two  spaces\nand a newline\n", "tabs\tand \xe2\x82\xac uro",
      "\xe4\xb8\xad\xe6\x96\x87 and emoji \xf0\x9f\x98\x80", stories.substr(0, 20000)};
  for (const std::string& text : texts) {
    EXPECT_EQ(tok->decode(tok->encode(text, true)), text);
    EXPECT_EQ(tok->decode(tok->encode(text, false)), text);
  }
}

TEST(Llama2cTokenizer, DecodePieceRules) {
  auto tok = Llama2cTokenizer::load(test::stories_tok());
  int once = tok->encode("Once", false).back();  // " Once" or its last piece
  std::string piece = tok->piece(once);
  ASSERT_FALSE(piece.empty());
  if (piece[0] == ' ') {
    EXPECT_EQ(tok->decode_piece(1, once), piece.substr(1));  // after BOS the space is stripped
    EXPECT_EQ(tok->decode_piece(400, once), piece);
  }
  EXPECT_EQ(tok->decode_piece(400, 0x0A + 3), "\n");  // "<0x0A>"
  EXPECT_EQ(tok->decode_piece(-1, 1), "");            // BOS
  EXPECT_THROW(tok->decode_piece(-1, 512), Error);
}

TEST(Llama2cTokenizer, TruncatedFileIsAnErrorNamingIt) {
  std::string bytes = test::read_all(test::stories_tok());
  const test::TempDir tmp;
  auto path = tmp / "tok_cut.bin";
  for (size_t n : {size_t{0}, size_t{2}, size_t{4 + 5}, bytes.size() - 1}) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(n));
    try {
      Llama2cTokenizer::load(path.string());
      ADD_FAILURE() << "no error for " << n << " bytes";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tok_cut.bin"), std::string::npos) << e.what();
    }
  }
}

// tok512.bin cut after token 6 (offset 100: 4 header bytes, then 8 + len bytes per token) reads on its
// own as a well-formed 7-token vocabulary, since the format has no token count. For the 512-token
// model it is reported as truncated: the file, where it ends, the first missing token and both sizes.
TEST(Llama2cTokenizer, CutAtATokenBoundaryIsTruncatedForTheModel) {
  const std::string bytes = test::read_all(test::stories_tok());
  const test::TempDir tmp;
  const auto path = tmp / "tok_cut.bin";
  std::ofstream(path, std::ios::binary).write(bytes.data(), 100);
  EXPECT_EQ(Llama2cTokenizer::load(path.string())->vocab_size(), 7);
  for (int via_load_tokenizer = 0; via_load_tokenizer < 2; ++via_load_tokenizer) {
    try {
      if (via_load_tokenizer)
        load_tokenizer_for_model(path.string(), 512);
      else
        Llama2cTokenizer::load(path.string(), 512);
      ADD_FAILURE() << "no error for a 7-token tokenizer and a 512-token model";
    } catch (const Error& e) {
      const std::string msg = e.what();
      for (const char* needle : {"tok_cut.bin", "truncated", "offset 100", "after token 6", "vocabulary size 7",
                                 "vocab_size is 512", "tokens 7..511 are missing"})
        EXPECT_NE(msg.find(needle), std::string::npos) << needle << " in: " << msg;
    }
  }
}

// A cut inside an entry names the token being read, out of the model's count, and the offset.
TEST(Llama2cTokenizer, CutInsideATokenNamesItsIndexAndOffset) {
  const std::string bytes = test::read_all(test::stories_tok());
  const test::TempDir tmp;
  const auto path = tmp / "tok_cut.bin";
  std::ofstream(path, std::ios::binary).write(bytes.data(), 107);  // token 7's score and half its length
  try {
    load_tokenizer_for_model(path.string(), 512);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* needle : {"tok_cut.bin", "truncated", "token 7 of 512", "offset 100"})
      EXPECT_NE(msg.find(needle), std::string::npos) << needle << " in: " << msg;
  }
}

// The whole file fits its model exactly; a model with fewer tokens is another model.
TEST(Llama2cTokenizer, VocabularyMustMatchTheModelExactly) {
  EXPECT_EQ(Llama2cTokenizer::load(test::stories_tok(), 512)->vocab_size(), 512);
  EXPECT_EQ(load_tokenizer_for_model(test::stories_tok(), 512)->vocab_size(), 512);
  try {
    load_tokenizer_for_model(test::stories_tok(), 256);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* needle : {"tok512.bin", "vocabulary size 512", "vocab_size 256"})
      EXPECT_NE(msg.find(needle), std::string::npos) << needle << " in: " << msg;
  }
}

}  // namespace
}  // namespace hessq::tokenizer
