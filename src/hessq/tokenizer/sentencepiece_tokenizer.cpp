#include "hessq/tokenizer/sentencepiece_tokenizer.hpp"

#include <sentencepiece_processor.h>

#include "hessq/core/error.hpp"
#include "hessq/tokenizer/text_util.hpp"

namespace hessq::tokenizer {

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::load(const std::string& path) {
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
  t->path_ = path;
  t->sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  auto status = t->sp_->Load(path);
  HESSQ_CHECK(status.ok(), "{}: cannot load SentencePiece model: {}", path, status.ToString());
  // Whether the normalizer adds a dummy prefix, without reaching into the model protobuf.
  std::vector<std::string> pieces;
  t->sp_->Encode("x", &pieces).IgnoreError();
  t->dummy_prefix_ = !pieces.empty() && pieces[0].starts_with(kSpmSpace);
  return t;
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int> SentencePieceTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  auto status = sp_->Encode(text, &ids);
  HESSQ_CHECK(status.ok(), "{}: encoding failed: {}", path_, status.ToString());
  if (add_bos && sp_->bos_id() >= 0) ids.insert(ids.begin(), sp_->bos_id());
  return ids;
}

std::string SentencePieceTokenizer::decode_piece(int prev, int id) const {
  HESSQ_CHECK(id >= 0 && id < vocab_size(), "{}: token id {} out of range [0, {})", path_, id, vocab_size());
  if (sp_->IsControl(id)) return {};
  if (sp_->IsUnknown(id)) return std::string(kSpmUnkSurface);
  const std::string& piece = sp_->IdToPiece(id);
  if (sp_->IsByte(id)) {
    if (auto b = parse_byte_piece(piece)) return std::string(1, static_cast<char>(*b));
  }
  std::string out = replace_all(piece, kSpmSpace, " ");
  if (dummy_prefix_ && (prev < 0 || prev == sp_->bos_id()) && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

int SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize(); }
int SentencePieceTokenizer::bos_id() const { return sp_->bos_id(); }
int SentencePieceTokenizer::eos_id() const { return sp_->eos_id(); }

GgufVocab SentencePieceTokenizer::gguf_vocab() const {
  GgufVocab v;
  v.model = "llama";
  for (int id = 0; id < vocab_size(); ++id) {
    v.tokens.push_back(sp_->IdToPiece(id));
    v.scores.push_back(sp_->GetScore(id));
    TokenType t = sp_->IsUnknown(id) ? TokenType::kUnknown
                  : sp_->IsControl(id) ? TokenType::kControl
                  : sp_->IsUnused(id)  ? TokenType::kUnused
                  : sp_->IsByte(id)    ? TokenType::kByte
                                       : TokenType::kNormal;
    v.types.push_back(static_cast<int32_t>(t));
  }
  v.bos_id = sp_->bos_id(), v.eos_id = sp_->eos_id(), v.unk_id = sp_->unk_id();
  v.add_bos = true, v.add_space_prefix = dummy_prefix_;
  return v;
}

}  // namespace hessq::tokenizer
