// Byte-level BPE (GPT-2, Llama-3, Qwen2/3, SmolLM): added tokens are matched literally, the rest is
// cut into pre-tokens by regex (regex_split), each pre-token's bytes become byte-level characters,
// and adjacent symbols merge by merge rank (lowest first, leftmost on ties) until no pair has a rank.
// Loaders: load_hf_tokenizer (tokenizer.json) and load_gguf_tokenizer (tokenizer.ggml.model "gpt2").
#pragma once
#include <array>
#include <string>
#include <unordered_map>
#include <utility>

#include "hessq/tokenizer/regex_split.hpp"
#include "hessq/tokenizer/special_split.hpp"
#include "hessq/tokenizer/text_util.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

namespace hessq::tokenizer {

struct BpeConfig {
  std::vector<std::string> tokens;                          // id -> byte-level text ("" for unused ids)
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order, highest priority first
  std::vector<std::string> patterns;                        // pre-tokenizer regexes (none: no split)
  std::vector<SpecialToken> added;                          // matched literally; decoded verbatim
                                                            // unless control (then to nothing)
  int bos_id = -1, eos_id = -1, unk_id = -1;
  bool ignore_merges = false;     // a pre-token that is itself a token is emitted whole (Llama-3)
  bool add_prefix_space = false;  // HF ByteLevel add_prefix_space: a space before each raw fragment
  std::string pre;                // llama.cpp's name of the pre-tokenizer (GGUF tokenizer.ggml.pre), "" if none
  bool add_bos = true;            // encode(text, true) prepends bos_id; false where the vocabulary says
                                  // text starts without one (GGUF tokenizer.ggml.add_bos_token = false)
};

class BpeTokenizer : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeConfig config);  // throws hessq::Error on inconsistent input

  std::vector<int> encode(std::string_view text, bool add_bos) const override;
  std::string decode_piece(int prev, int id) const override;
  int vocab_size() const override { return static_cast<int>(tokens_.size()); }
  int bos_id() const override { return bos_id_; }
  int eos_id() const override { return eos_id_; }
  GgufVocab gguf_vocab() const override;

  int token_id(std::string_view text) const;  // byte-level text -> id, -1 if absent
  const std::string& token(int id) const { return tokens_.at(id); }
  const std::vector<std::string>& patterns() const { return splitter_.patterns(); }
  size_t merge_count() const { return merges_.size(); }

 private:
  struct Merge {
    int rank;
    int merged;  // id of the concatenation
  };
  static uint64_t pair_key(int a, int b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }
  void encode_word(std::string_view bytes, std::vector<int>& ids) const;

  std::vector<std::string> tokens_;
  StringMap<int> index_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<int, 256> byte_ids_;  // id of each byte's byte-level character, -1 if absent
  RegexSplitter splitter_;
  std::vector<SpecialToken> added_;
  enum class Kind : uint8_t { kBpe, kAdded, kControl };
  std::vector<Kind> kind_;  // per id
  int bos_id_, eos_id_, unk_id_;
  bool add_bos_;
  std::string pre_;
  bool ignore_merges_, add_prefix_space_;
};

}  // namespace hessq::tokenizer
