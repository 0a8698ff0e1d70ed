// Regex pre-tokenization with PCRE2 (UTF + Unicode properties, JIT when available): the text is cut
// into the matches of a pattern and the gaps between them, both kept, in order (HF tokenizers'
// Split with behavior "Isolated"); with several patterns each one splits the pieces of the last.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hessq::tokenizer {

// Named pre-tokenizer pattern sequences: "gpt2" (also GGUF "gpt-2", "mpt", "olmo", "jais"),
// "llama3" ("llama-bpe", "smaug-bpe"), "qwen2" ("deepseek-r1-qwen"), "smollm" (digits one by one,
// then gpt2; also "starcoder", "refact", "codeshell"). Throws hessq::Error for other names.
std::vector<std::string> pretokenizer_patterns(std::string_view name);

// The llama.cpp name (GGUF tokenizer.ggml.pre) of a pattern sequence pretokenizer_patterns knows:
// "gpt2", "llama-bpe", "qwen2" or "smollm"; "" for any other sequence.
std::string pretokenizer_gguf_name(const std::vector<std::string>& patterns);

extern const char* const kGpt2Pattern;  // GPT-2 / HF ByteLevel(use_regex) pattern

class RegexSplitter {
 public:
  explicit RegexSplitter(std::vector<std::string> patterns);  // throws hessq::Error on a bad pattern
  ~RegexSplitter();
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;

  // Non-empty pieces of `text` whose concatenation is `text`. Thread-safe.
  std::vector<std::string_view> split(std::string_view text) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Compiled;
  std::vector<std::string> patterns_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
};

}  // namespace hessq::tokenizer
