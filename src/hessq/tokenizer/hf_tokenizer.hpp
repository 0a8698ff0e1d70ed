// HF tokenizers `tokenizer.json` for byte-level BPE models (GPT-2, Llama-3, Qwen2/3, SmolLM):
// model.type "BPE" (vocab, merges as "a b" strings or [a, b] pairs, ignore_merges, unk_token),
// pre_tokenizer ByteLevel / Split(Regex|String, Isolated) / Digits / Sequence, added_tokens, and
// bos/eos from a tokenizer_config.json next to it (none without one). The normalizer must be null
// or NFC (NFC is assumed of the input, not applied).
#pragma once
#include <memory>
#include <string>

#include "hessq/tokenizer/bpe_tokenizer.hpp"

namespace hessq::tokenizer {

std::unique_ptr<BpeTokenizer> load_hf_tokenizer(const std::string& json_path);  // throws hessq::Error
// Whether a tokenizer.json describes a byte-level BPE (what load_hf_tokenizer reads).
bool is_byte_level_bpe(const std::string& json_path);

}  // namespace hessq::tokenizer
