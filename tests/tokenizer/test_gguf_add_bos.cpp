// A GGUF byte-level BPE vocabulary that says tokenizer.ggml.add_bos_token = false (SmolLM2, like
// its HF tokenizer) encodes text without BOS even when BOS is asked for; without the key, or with
// true, BOS comes first.
#include <gtest/gtest.h>

#include <fstream>

#include "hessq/tokenizer/gguf_tokenizer.hpp"
#include "test_util.hpp"
#include "test_util/gguf_writer.hpp"

namespace hessq::tokenizer {
namespace {

using test::TestGgufWriter;

// Tokens: <s> (0, control), then the byte-level characters of "a", "b", and the merge "ab".
std::string vocab_gguf(int add_bos) {
  TestGgufWriter w;
  w.kv_str("tokenizer.ggml.model", "gpt2");
  w.kv_str("tokenizer.ggml.pre", "gpt2");
  w.kv_raw_array("tokenizer.ggml.tokens", TestGgufWriter::str_array({"<s>", "a", "b", "ab"}));
  w.kv_raw_array("tokenizer.ggml.merges", TestGgufWriter::str_array({"a b"}));
  w.kv_raw_array("tokenizer.ggml.token_type", TestGgufWriter::array<int32_t>(io::GgufType::kInt32, {3, 1, 1, 1}));
  w.kv<uint32_t>("tokenizer.ggml.bos_token_id", io::GgufType::kUint32, 0);
  if (add_bos >= 0) w.kv<uint8_t>("tokenizer.ggml.add_bos_token", io::GgufType::kBool, static_cast<uint8_t>(add_bos));
  return w.bytes();
}

std::vector<int> encode_with(int add_bos) {
  const test::TempDir dir;
  const std::string path = (dir / "v.gguf").string();
  const std::string b = vocab_gguf(add_bos);
  std::ofstream(path, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
  return load_gguf_tokenizer(path)->encode("ab", /*add_bos=*/true);
}

TEST(GgufAddBos, FollowsTheVocabularysFlag) {
  EXPECT_EQ(encode_with(-1), (std::vector<int>{0, 3}));
  EXPECT_EQ(encode_with(1), (std::vector<int>{0, 3}));
  EXPECT_EQ(encode_with(0), (std::vector<int>{3}));
}

}  // namespace
}  // namespace hessq::tokenizer
