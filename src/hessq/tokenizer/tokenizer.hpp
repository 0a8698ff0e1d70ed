// Tokenizer: text <-> token ids. One interface over every vocabulary format hessq reads:
// llama2.c tokenizer.bin, SentencePiece .model, HF tokenizer.json (byte-level BPE), GGUF vocabularies.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hessq/tokenizer/gguf_vocab.hpp"

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
  // The vocabulary as GGUF metadata stores it (for `hessq export --to gguf`).
  virtual GgufVocab gguf_vocab() const = 0;

  std::string decode(const std::vector<int>& ids) const;  // concatenation of decode_piece
};

// Opens a tokenizer by file: *.bin (llama2.c), *.model (SentencePiece), tokenizer.json (HF),
// *.gguf (vocabulary stored in GGUF metadata), or an HF model directory (tokenizer.json inside).
// A directory uses its byte-level tokenizer.json, else its tokenizer.model. Throws hessq::Error
// naming the path ("PATH: no such file", truncated or malformed files, unsupported models).
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// load_tokenizer for a model whose embedding has `model_vocab_size` rows, checking that the two
// belong together. The rule [choice]:
// - llama2.c tokenizer.bin: exactly model_vocab_size tokens (run.c reads that many entries). The file
//   has no token count, so one cut at an entry boundary reads as a smaller, well-formed vocabulary;
//   here it is an error naming the file, the offset where it ends and the first missing token.
// - every other format (SentencePiece .model, tokenizer.json, GGUF, HF directory): tokenizer
//   vocabulary <= model_vocab_size. HF checkpoints often pad the embedding past the tokenizer (to a
//   multiple of 64 or 128, e.g. Qwen2.5: 151665 tokens, vocab_size 151936); encode never produces
//   those extra ids. A larger tokenizer would produce ids the model has no row for: an error.
// Errors name the tokenizer path, its vocabulary size and the model's.
std::unique_ptr<Tokenizer> load_tokenizer_for_model(const std::string& path, int model_vocab_size);

}  // namespace hessq::tokenizer
