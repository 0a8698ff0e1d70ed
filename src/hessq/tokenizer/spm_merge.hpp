// The merge loop shared by the SentencePiece-style BPE tokenizers (llama2.c tokenizer.bin and GGUF
// "llama" vocabularies): split the text into UTF-8 characters, then repeatedly merge the adjacent
// pair whose concatenation is a vocabulary piece with the highest score, leftmost on ties, until no
// adjacent pair forms a piece. This is llama2.c's `encode` loop and llama.cpp's llm_tokenizer_spm,
// run with a priority queue so that it is O(n log n) instead of quadratic.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "hessq/tokenizer/text_util.hpp"

namespace hessq::tokenizer {

// Pieces with scores and a piece -> id index (the first id wins for duplicated pieces).
struct ScoredVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  StringMap<int> index;

  ScoredVocab() = default;
  ScoredVocab(std::vector<std::string> pieces, std::vector<float> scores);
  int find(std::string_view piece) const;  // -1 if absent
  int size() const { return static_cast<int>(pieces.size()); }
};

// Returns the merged symbols as views into `text`. A symbol that is not a piece of `vocab` is a
// single character the vocabulary lacks (the caller falls back to byte tokens).
std::vector<std::string_view> spm_merge(std::string_view text, const ScoredVocab& vocab);

}  // namespace hessq::tokenizer
