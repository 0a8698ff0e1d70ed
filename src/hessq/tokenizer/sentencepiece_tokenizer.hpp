// A SentencePiece `.model` file, encoded and decoded by libsentencepiece itself.
#pragma once
#include <memory>
#include <string>

#include "hessq/tokenizer/tokenizer.hpp"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace hessq::tokenizer {

class SentencePieceTokenizer : public Tokenizer {
 public:
  static std::unique_ptr<SentencePieceTokenizer> load(const std::string& path);  // throws hessq::Error
  ~SentencePieceTokenizer() override;

  std::vector<int> encode(std::string_view text, bool add_bos) const override;
  std::string decode_piece(int prev, int id) const override;
  int vocab_size() const override;
  int bos_id() const override;
  int eos_id() const override;
  GgufVocab gguf_vocab() const override;

 private:
  SentencePieceTokenizer() = default;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string path_;
  bool dummy_prefix_ = true;  // the model prepends U+2581, which decoding strips at the start
};

}  // namespace hessq::tokenizer
