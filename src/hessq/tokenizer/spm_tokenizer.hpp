// SentencePiece-style BPE over a scored vocabulary with token types, as stored in GGUF files with
// tokenizer.ggml.model == "llama" (llama.cpp's llm_tokenizer_spm): user-defined pieces are matched
// literally, spaces become U+2581, a U+2581 dummy prefix starts the text (and follows each
// user-defined piece), pieces merge by score (spm_merge), and characters outside the vocabulary
// fall back to "<0xXX>" byte pieces.
#pragma once
#include <array>
#include <string>

#include "hessq/tokenizer/special_split.hpp"
#include "hessq/tokenizer/spm_merge.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

namespace hessq::tokenizer {

struct SpmConfig {
  ScoredVocab vocab;
  std::vector<int32_t> types;  // TokenType per id (all kNormal if empty)
  int bos_id = 1, eos_id = 2, unk_id = 0;
  bool add_space_prefix = true;
};

class SpmTokenizer : public Tokenizer {
 public:
  explicit SpmTokenizer(SpmConfig config);

  std::vector<int> encode(std::string_view text, bool add_bos) const override;
  std::string decode_piece(int prev, int id) const override;
  int vocab_size() const override { return cfg_.vocab.size(); }
  int bos_id() const override { return cfg_.bos_id; }
  int eos_id() const override { return cfg_.eos_id; }
  GgufVocab gguf_vocab() const override;

 private:
  TokenType type(int id) const { return static_cast<TokenType>(cfg_.types[id]); }
  void encode_raw(std::string_view text, std::vector<int>& ids) const;

  SpmConfig cfg_;
  std::vector<SpecialToken> user_defined_;
  std::array<int, 256> byte_ids_;  // id of "<0xXX>" per byte, -1 if absent
};

}  // namespace hessq::tokenizer
