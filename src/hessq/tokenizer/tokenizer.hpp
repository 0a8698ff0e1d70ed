// Tokenizer: text <-> token ids. One interface over every vocabulary format hessq reads:
// llama2.c tokenizer.bin, SentencePiece .model, HF tokenizer.json (byte-level BPE), GGUF vocabularies.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hessq::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Encodes `text`; with add_bos the BOS id is prepended (when the vocabulary has one).
  virtual std::vector<int> encode(std::string_view text, bool add_bos) const = 0;
  // The text of token `id` as it appears after token `prev` (handles the leading space that
  // SentencePiece vocabularies strip after BOS, and byte tokens). Concatenating decode_piece over a
  // sequence gives the decoded text. prev < 0 means the start of the text (treated like BOS);
  // control tokens (BOS, EOS, <|endoftext|>) decode to "", so decode(encode(t, add_bos)) == t.
  virtual std::string decode_piece(int prev, int id) const = 0;
  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;  // -1 if none
  virtual int eos_id() const = 0;  // -1 if none

  std::string decode(const std::vector<int>& ids) const;  // concatenation of decode_piece
};

// Opens a tokenizer by file: *.bin (llama2.c), *.model (SentencePiece), tokenizer.json (HF),
// *.gguf (vocabulary stored in GGUF metadata), or an HF model directory (tokenizer.json inside).
// A directory uses its byte-level tokenizer.json, else its tokenizer.model. Throws hessq::Error
// naming the path ("PATH: no such file", truncated or malformed files, unsupported models).
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace hessq::tokenizer
