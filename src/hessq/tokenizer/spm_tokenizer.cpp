#include "hessq/tokenizer/spm_tokenizer.hpp"

#include "hessq/core/error.hpp"
#include "hessq/tokenizer/text_util.hpp"

namespace hessq::tokenizer {

SpmTokenizer::SpmTokenizer(SpmConfig config) : cfg_(std::move(config)) {
  int n = cfg_.vocab.size();
  if (cfg_.types.empty()) cfg_.types.assign(n, static_cast<int32_t>(TokenType::kNormal));
  HESSQ_CHECK(static_cast<int>(cfg_.types.size()) == n, "vocabulary has {} tokens but {} token types", n,
              cfg_.types.size());
  for (int id : {cfg_.bos_id, cfg_.eos_id, cfg_.unk_id})
    HESSQ_CHECK(id >= -1 && id < n, "special token id {} outside the vocabulary of {} tokens", id, n);
  for (int id = 0; id < n; ++id)
    if (type(id) == TokenType::kUserDefined) user_defined_.push_back({cfg_.vocab.pieces[id], id});
  for (int b = 0; b < 256; ++b) byte_ids_[b] = cfg_.vocab.find(byte_piece_name(static_cast<uint8_t>(b)));
}

void SpmTokenizer::encode_raw(std::string_view text, std::vector<int>& ids) const {
  std::string escaped = replace_all(text, " ", kSpmSpace);
  for (std::string_view s : spm_merge(escaped, cfg_.vocab)) {
    int id = cfg_.vocab.find(s);
    if (id >= 0) {
      ids.push_back(id);
      continue;
    }
    for (char c : s) {  // byte fallback
      int b = byte_ids_[static_cast<uint8_t>(c)];
      ids.push_back(b >= 0 ? b : cfg_.unk_id);
    }
  }
}

std::vector<int> SpmTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  if (add_bos && cfg_.bos_id >= 0) ids.push_back(cfg_.bos_id);
  bool after_special = true;  // the dummy prefix goes at the start and after each user-defined piece
  for (const Fragment& f : split_specials(text, user_defined_)) {
    if (f.id >= 0) {
      ids.push_back(f.id);
      after_special = true;
      continue;
    }
    encode_raw(cfg_.add_space_prefix && after_special ? prepend_space(f.text) : std::string(f.text), ids);
    after_special = false;
  }
  return ids;
}

std::string SpmTokenizer::decode_piece(int prev, int id) const {
  HESSQ_CHECK(id >= 0 && id < vocab_size(), "token id {} out of range [0, {})", id, vocab_size());
  const std::string& piece = cfg_.vocab.pieces[id];
  switch (type(id)) {
    case TokenType::kControl: return {};
    case TokenType::kUnknown: return std::string(kSpmUnkSurface);
    case TokenType::kUserDefined: return piece;
    case TokenType::kByte:
      if (auto b = parse_byte_piece(piece)) return std::string(1, static_cast<char>(*b));
      return piece;
    default: break;
  }
  std::string out = replace_all(piece, kSpmSpace, " ");
  bool at_start = prev < 0 || (prev == cfg_.bos_id);
  if (cfg_.add_space_prefix && at_start && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

GgufVocab SpmTokenizer::gguf_vocab() const {
  GgufVocab v;
  v.model = "llama";
  v.tokens = cfg_.vocab.pieces;
  v.scores = cfg_.vocab.scores;
  v.types = cfg_.types;
  v.bos_id = cfg_.bos_id, v.eos_id = cfg_.eos_id, v.unk_id = cfg_.unk_id;
  v.add_space_prefix = cfg_.add_space_prefix;
  return v;
}

}  // namespace hessq::tokenizer
