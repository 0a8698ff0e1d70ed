// The vocabulary stored in a GGUF file's tokenizer.ggml.* metadata: model "llama" (SentencePiece
// BPE: tokens, scores, token_type) -> SpmTokenizer; model "gpt2" (byte-level BPE: tokens, merges,
// pre-tokenizer name in tokenizer.ggml.pre) -> BpeTokenizer.
#pragma once
#include <memory>
#include <string>

#include "hessq/io/gguf.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

namespace hessq::tokenizer {

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const io::GgufFile& gguf);  // throws hessq::Error
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path);

}  // namespace hessq::tokenizer
