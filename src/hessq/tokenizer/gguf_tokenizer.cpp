#include "hessq/tokenizer/gguf_tokenizer.hpp"

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/tokenizer/bpe_tokenizer.hpp"
#include "hessq/tokenizer/spm_tokenizer.hpp"

namespace hessq::tokenizer {

namespace {

constexpr const char* kTokens = "tokenizer.ggml.tokens";

int optional_id(const io::GgufFile& g, const std::string& key, int fallback) {
  auto v = g.find_u32(key);
  return v ? static_cast<int>(*v) : fallback;
}

template <class T>
std::vector<T> same_length(std::vector<T> v, size_t n, const io::GgufFile& g, const char* key) {
  HESSQ_CHECK(v.size() == n, "{}: {} has {} entries, expected {} (one per token)", g.path(), key, v.size(), n);
  return v;
}

std::unique_ptr<Tokenizer> load_spm(const io::GgufFile& g) {
  auto tokens = g.get_string_array(kTokens);
  size_t n = tokens.size();
  const char* kScores = "tokenizer.ggml.scores";
  const char* kTypes = "tokenizer.ggml.token_type";
  auto scores = g.has(kScores) ? same_length(g.get_f32_array(kScores), n, g, kScores) : std::vector<float>(n, 0.f);
  SpmConfig c;
  c.vocab = ScoredVocab(std::move(tokens), std::move(scores));
  if (g.has(kTypes)) c.types = same_length(g.get_i32_array(kTypes), n, g, kTypes);
  c.bos_id = optional_id(g, "tokenizer.ggml.bos_token_id", 1);
  c.eos_id = optional_id(g, "tokenizer.ggml.eos_token_id", 2);
  c.unk_id = optional_id(g, "tokenizer.ggml.unknown_token_id", 0);
  c.add_space_prefix = g.find_bool("tokenizer.ggml.add_space_prefix").value_or(true);
  return with_context(g.path(), [&] { return std::make_unique<SpmTokenizer>(std::move(c)); });
}

std::unique_ptr<Tokenizer> load_bpe(const io::GgufFile& g) {
  BpeConfig c;
  c.tokens = g.get_string_array(kTokens);
  for (const std::string& m : g.get_string_array("tokenizer.ggml.merges")) {
    size_t sp = m.find(' ', 1);
    HESSQ_CHECK(sp != std::string::npos, "{}: tokenizer.ggml.merges: expected \"a b\", found \"{}\"", g.path(), m);
    c.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  std::string pre = g.find_string("tokenizer.ggml.pre").value_or("default");
  if (pre == "default") {
    spdlog::warn("{}: no specific tokenizer.ggml.pre, using the GPT-2 pre-tokenizer", g.path());
    pre = "gpt2";
  }
  c.patterns = with_context(g.path(), [&] { return pretokenizer_patterns(pre); });
  c.pre = pre;
  c.ignore_merges = pre == "llama3" || pre == "llama-bpe" || pre == "smaug-bpe";
  if (const char* kTypes = "tokenizer.ggml.token_type"; g.has(kTypes)) {
    auto types = same_length(g.get_i32_array(kTypes), c.tokens.size(), g, kTypes);
    for (size_t id = 0; id < types.size(); ++id) {
      auto t = static_cast<TokenType>(types[id]);
      if (t == TokenType::kControl || t == TokenType::kUserDefined)
        c.added.push_back({c.tokens[id], static_cast<int>(id), t == TokenType::kControl});
    }
  }
  c.bos_id = optional_id(g, "tokenizer.ggml.bos_token_id", -1);
  c.eos_id = optional_id(g, "tokenizer.ggml.eos_token_id", -1);
  c.unk_id = optional_id(g, "tokenizer.ggml.unknown_token_id", -1);
  c.add_bos = g.find_bool("tokenizer.ggml.add_bos_token").value_or(true);
  return with_context(g.path(), [&] { return std::make_unique<BpeTokenizer>(std::move(c)); });
}

}  // namespace

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const io::GgufFile& g) {
  std::string model = g.get_string("tokenizer.ggml.model");
  if (model == "llama") return load_spm(g);
  if (model == "gpt2") return load_bpe(g);
  HESSQ_FAIL("{}: unsupported tokenizer.ggml.model '{}' (expected llama or gpt2)", g.path(), model);
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  return load_gguf_tokenizer(io::GgufFile::open(path));
}

}  // namespace hessq::tokenizer
