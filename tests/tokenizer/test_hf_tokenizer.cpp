#include "hessq/tokenizer/hf_tokenizer.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "hessq/core/error.hpp"
#include "hessq/io/gguf.hpp"
#include "test_util.hpp"
#include "vocab_test_cases.hpp"

namespace hessq::tokenizer {
namespace {

using nlohmann::json;
const std::string kGpt2 = "vocab/gpt-2/ggml-vocab-gpt-2.gguf";

void write_json(const std::filesystem::path& p, const json& j) { std::ofstream(p) << j.dump(); }

// A tokenizer.json holding the GPT-2 GGUF's vocabulary and merges. With `split_regex` the pattern is
// a separate Split step and ByteLevel only maps bytes (Llama-3 / Qwen2 layout), and merges are
// [a, b] pairs; otherwise ByteLevel applies its built-in GPT-2 regex and merges are "a b" strings.
json gpt2_tokenizer_json(bool split_regex) {
  io::GgufFile g = io::GgufFile::open(test::shared_path(kGpt2));
  json vocab = json::object();
  auto tokens = g.get_string_array("tokenizer.ggml.tokens");
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  json merges = json::array();
  for (const std::string& m : g.get_string_array("tokenizer.ggml.merges")) {
    size_t sp = m.find(' ');
    merges.push_back(split_regex ? json::array({m.substr(0, sp), m.substr(sp + 1)}) : json(m));
  }
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                     {"use_regex", !split_regex}};
  json pre = byte_level;
  if (split_regex) {
    json split = {{"type", "Split"},
                  {"pattern", {{"Regex", kGpt2Pattern}}},
                  {"behavior", "Isolated"},
                  {"invert", false}};
    pre = {{"type", "Sequence"}, {"pretokenizers", json::array({split, byte_level})}};
  }
  return {{"version", "1.0"},
          {"added_tokens", json::array({{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}})},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre},
          {"decoder", byte_level},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"unk_token", nullptr}}}};
}

TEST(HfTokenizer, MatchesGpt2VectorsWithEitherLayout) {
  auto cases = test::read_vocab_cases(test::shared_path(kGpt2));
  for (bool split_regex : {false, true}) {
    const test::TempDir dir;
    write_json(dir / "tokenizer.json", gpt2_tokenizer_json(split_regex));
    auto tok = load_hf_tokenizer((dir / "tokenizer.json").string());
    EXPECT_EQ(tok->vocab_size(), 50257);
    EXPECT_EQ(tok->bos_id(), -1);  // no tokenizer_config.json
    for (const auto& c : cases) {
      EXPECT_EQ(tok->encode(c.text, false), c.ids) << (split_regex ? "[split] " : "") << "text: \"" << c.text << "\"";
    }
  }
}

TEST(HfTokenizer, AddedTokensAndConfigIds) {
  const test::TempDir dir;
  json j = gpt2_tokenizer_json(false);
  j["added_tokens"].push_back({{"id", 50257}, {"content", "<sep>"}, {"special", false}});
  write_json(dir / "tokenizer.json", j);
  write_json(dir / "tokenizer_config.json",
             {{"bos_token", "<|endoftext|>"}, {"eos_token", {{"content", "<|endoftext|>"}}}});
  auto tok = load_hf_tokenizer((dir / "tokenizer.json").string());
  EXPECT_EQ(tok->bos_id(), 50256);
  EXPECT_EQ(tok->eos_id(), 50256);
  EXPECT_EQ(tok->vocab_size(), 50258);
  std::vector<int> ids = tok->encode("Hello<|endoftext|> world<sep>!", true);
  EXPECT_EQ(ids, (std::vector<int>{50256, 15496, 50256, 995, 50257, 0}));
  // Special (control) tokens decode to nothing, other added tokens to their text.
  EXPECT_EQ(tok->decode(ids), "Hello world<sep>!");
}

TEST(HfTokenizer, ErrorsNameTheFile) {
  const test::TempDir dir;
  std::ofstream(dir / "tokenizer.json") << "{\"model\": {\"type\": \"BPE\", ";
  try {
    load_hf_tokenizer((dir / "tokenizer.json").string());
    ADD_FAILURE() << "no error for invalid JSON";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json: invalid JSON"), std::string::npos) << e.what();
  }
  json wordpiece = {{"model", {{"type", "WordPiece"}, {"vocab", json::object()}}}};
  write_json(dir / "tokenizer.json", wordpiece);
  try {
    load_hf_tokenizer((dir / "tokenizer.json").string());
    ADD_FAILURE() << "no error for WordPiece";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected BPE, found WordPiece"), std::string::npos) << e.what();
  }
  json j = gpt2_tokenizer_json(false);
  j["model"]["vocab"]["!"] = "zero";
  write_json(dir / "tokenizer.json", j);
  try {
    load_hf_tokenizer((dir / "tokenizer.json").string());
    ADD_FAILURE() << "no error for a string token id";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json: token '!' has id \"zero\", expected an integer"),
              std::string::npos)
        << e.what();
  }
  // Fuzz finding (fuzz_hf_tokenizer): a float id out of int64's range was converted (undefined behaviour).
  j = gpt2_tokenizer_json(false);
  j["model"]["vocab"]["!"] = 6.2e64;
  write_json(dir / "tokenizer.json", j);
  try {
    load_hf_tokenizer((dir / "tokenizer.json").string());
    ADD_FAILURE() << "no error for a float token id";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token '!' has id 6.2e+64, expected an integer"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hessq::tokenizer
