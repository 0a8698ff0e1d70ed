// A vocabulary as llama.cpp's GGUF metadata holds it (the tokenizer.ggml.* keys gguf_tokenizer.hpp
// reads): model "llama" (SentencePiece-style: tokens, scores, token types) or "gpt2" (byte-level BPE:
// tokens, token types, merges "a b" in rank order, the pre-tokenizer's llama.cpp name).
// Every hessq tokenizer can give its vocabulary in this form (Tokenizer::gguf_vocab), so an exported
// GGUF carries the tokenizer the model was evaluated with.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hessq::io {
class GgufWriter;
}

namespace hessq::tokenizer {

// GGUF tokenizer.ggml.token_type values (llama.cpp llama_token_type).
enum class TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct GgufVocab {
  std::string model;                // "llama" or "gpt2"
  std::string pre;                  // gpt2: tokenizer.ggml.pre ("smollm", "llama-bpe", "qwen2", "gpt2")
  std::vector<std::string> tokens;  // llama: pieces with U+2581 for spaces, bytes as "<0xXX>"
  std::vector<float> scores;        // llama only
  std::vector<int32_t> types;       // TokenType (spm_tokenizer.hpp), one per token
  std::vector<std::string> merges;  // gpt2 only
  int bos_id = -1, eos_id = -1, unk_id = -1;
  std::optional<bool> add_bos;           // tokenizer.ggml.add_bos_token
  std::optional<bool> add_space_prefix;  // tokenizer.ggml.add_space_prefix (llama)
};

// Adds the tokenizer.ggml.* keys of `v` to `w`.
void add_gguf_vocab(io::GgufWriter& w, const GgufVocab& v);

}  // namespace hessq::tokenizer
