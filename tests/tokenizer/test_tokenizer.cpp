#include "hessq/tokenizer/tokenizer.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "hessq/core/error.hpp"
#include "hessq/tokenizer/bpe_tokenizer.hpp"
#include "hessq/tokenizer/llama2c_tokenizer.hpp"
#include "hessq/tokenizer/sentencepiece_tokenizer.hpp"
#include "hessq/tokenizer/spm_tokenizer.hpp"
#include "test_util.hpp"
#include "vocab_test_cases.hpp"

namespace hessq::tokenizer {
namespace {

namespace fs = std::filesystem;

std::string load_error(const std::string& path) {
  try {
    load_tokenizer(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

template <class T>
bool loads_as(const std::string& path) {
  auto tok = load_tokenizer(path);
  return dynamic_cast<T*>(tok.get()) != nullptr;
}

// A GGUF holding only tokenizer.ggml.model = `model`.
void write_gguf_with_model(const fs::path& p, const std::string& model) {
  std::string b = "GGUF";
  auto put = [&](auto v) { b.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  put(uint32_t{3});
  put(uint64_t{0});
  put(uint64_t{1});
  std::string key = "tokenizer.ggml.model";
  put(uint64_t{key.size()});
  b += key;
  put(uint32_t{8});  // string
  put(uint64_t{model.size()});
  b += model;
  std::ofstream(p, std::ios::binary) << b;
}

TEST(LoadTokenizer, DispatchesByFile) {
  EXPECT_TRUE(loads_as<Llama2cTokenizer>(test::stories_tok()));
  EXPECT_TRUE(loads_as<SentencePieceTokenizer>(test::shared_path("vocab/llama2/tokenizer.model")));
  EXPECT_TRUE(loads_as<SpmTokenizer>(test::shared_path("vocab/llama-spm/ggml-vocab-llama-spm.gguf")));
  EXPECT_TRUE(loads_as<BpeTokenizer>(test::shared_path("vocab/gpt-2/ggml-vocab-gpt-2.gguf")));
}

TEST(LoadTokenizer, DirectoryPrefersByteLevelJsonThenModel) {
  const test::TempDir dir;
  fs::create_symlink(test::shared_path("vocab/llama2/tokenizer.model"), dir / "tokenizer.model");
  EXPECT_TRUE(loads_as<SentencePieceTokenizer>(dir.string()));
  // A Llama-2 style tokenizer.json (not byte-level) next to tokenizer.model: the model file wins.
  std::ofstream(dir / "tokenizer.json")
      << R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}})";
  EXPECT_TRUE(loads_as<SentencePieceTokenizer>(dir.string()));
  std::ofstream(dir / "tokenizer.json")
      << R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},)"
      << R"( "pre_tokenizer": {"type": "ByteLevel"}})";
  EXPECT_TRUE(loads_as<BpeTokenizer>(dir.string()));
  EXPECT_EQ(load_tokenizer(dir.string())->encode("abba", false), (std::vector<int>{2, 1, 0}));
  EXPECT_TRUE(loads_as<BpeTokenizer>((dir / "tokenizer.json").string()));
  fs::remove(dir / "tokenizer.model");
  fs::remove(dir / "tokenizer.json");
  EXPECT_NE(load_error(dir.string()).find("neither tokenizer.json nor tokenizer.model"), std::string::npos);
}

TEST(LoadTokenizer, MissingAndCorruptFilesAreErrorsNamingThem) {
  const test::TempDir dir;
  std::string missing = (dir / "nope.bin").string();
  EXPECT_EQ(load_error(missing), missing + ": no such file");

  std::string bytes = test::read_all(test::stories_tok());
  std::ofstream(dir / "cut.bin", std::ios::binary) << bytes.substr(0, bytes.size() - 2);
  EXPECT_NE(load_error((dir / "cut.bin").string()).find("cut.bin: truncated"), std::string::npos);

  std::ofstream(dir / "bad.json") << "{ not json";
  EXPECT_NE(load_error((dir / "bad.json").string()).find("bad.json: invalid JSON"), std::string::npos);

  std::ofstream(dir / "bad.model") << "not a protobuf";
  EXPECT_NE(load_error((dir / "bad.model").string()).find("bad.model"), std::string::npos);

  write_gguf_with_model(dir / "bert.gguf", "bert");
  std::string e = load_error((dir / "bert.gguf").string());
  EXPECT_NE(e.find("bert.gguf: unsupported tokenizer.ggml.model 'bert'"), std::string::npos) << e;

  std::ofstream(dir / "vocab.txt") << "a\n";
  EXPECT_NE(load_error((dir / "vocab.txt").string()).find("unknown tokenizer file type '.txt'"), std::string::npos);
}

TEST(LoadTokenizer, DecodeIsConcatenatedPieces) {
  auto tok = load_tokenizer(test::stories_tok());
  std::vector<int> ids = tok->encode("Once upon a time", true);
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) text += tok->decode_piece(i ? ids[i - 1] : -1, ids[i]);
  EXPECT_EQ(text, "Once upon a time");
  EXPECT_EQ(tok->decode(ids), text);
}

// Formats other than llama2.c .bin may have fewer tokens than the model (padded HF embeddings, e.g.
// Qwen2.5: 151665 tokens for vocab_size 151936), never more.
TEST(LoadTokenizer, ForAModelAllowsAPaddedEmbeddingButNotAShortOne) {
  const std::string path = test::shared_path("vocab/llama2/tokenizer.model");  // 32000 pieces
  EXPECT_EQ(load_tokenizer_for_model(path, 32000)->vocab_size(), 32000);
  EXPECT_EQ(load_tokenizer_for_model(path, 32064)->vocab_size(), 32000);
  try {
    load_tokenizer_for_model(path, 31999);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* needle : {"tokenizer.model", "vocabulary size 32000", "vocab_size 31999"})
      EXPECT_NE(msg.find(needle), std::string::npos) << needle << " in: " << msg;
  }
}

}  // namespace
}  // namespace hessq::tokenizer
