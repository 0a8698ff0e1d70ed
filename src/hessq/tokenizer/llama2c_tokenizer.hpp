// llama2.c tokenizer.bin: i32 max_token_length, then per token (until EOF) f32 score, i32 len and
// len bytes; there is no token count (run.c reads the model's vocab_size entries). Pieces use ' '
// where SentencePiece uses U+2581; ids 0/1/2 are <unk>, BOS and EOS and byte tokens "<0xXX>" follow.
// Encoding follows run.c `encode` (dummy-prefix space, characters, highest-score merges, byte fallback).
#pragma once
#include <array>
#include <string>

#include "hessq/tokenizer/spm_merge.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

namespace hessq::tokenizer {

class Llama2cTokenizer : public Tokenizer {
 public:
  static constexpr int kBos = 1;
  static constexpr int kEos = 2;

  // Throws hessq::Error naming the file for a malformed or truncated file. With expected_tokens > 0
  // (the model's vocab_size: run.c reads exactly that many entries) the file must hold exactly that
  // many tokens; fewer is reported as truncation (offset where the file ends, first missing token).
  static std::unique_ptr<Llama2cTokenizer> load(const std::string& path, int expected_tokens = 0);
  explicit Llama2cTokenizer(ScoredVocab vocab);

  std::vector<int> encode(std::string_view text, bool add_bos) const override;
  std::string decode_piece(int prev, int id) const override;
  int vocab_size() const override { return vocab_.size(); }
  int bos_id() const override { return kBos; }
  int eos_id() const override { return kEos; }
  GgufVocab gguf_vocab() const override;

  const std::string& piece(int id) const { return vocab_.pieces.at(id); }
  float score(int id) const { return vocab_.scores.at(id); }

 private:
  ScoredVocab vocab_;
  std::array<int, 256> byte_ids_;  // id of "<0xXX>" per byte, -1 if absent
};

}  // namespace hessq::tokenizer
