#include "hessq/tokenizer/gguf_vocab.hpp"

#include "hessq/io/gguf_writer.hpp"

namespace hessq::tokenizer {

void add_gguf_vocab(io::GgufWriter& w, const GgufVocab& v) {
  w.add_string("tokenizer.ggml.model", v.model);
  if (!v.pre.empty()) w.add_string("tokenizer.ggml.pre", v.pre);
  w.add_string_array("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) w.add_f32_array("tokenizer.ggml.scores", v.scores);
  if (!v.types.empty()) w.add_i32_array("tokenizer.ggml.token_type", v.types);
  // llama.cpp requires the merges of a gpt2 vocabulary, even an empty list.
  if (v.model == "gpt2" || !v.merges.empty()) w.add_string_array("tokenizer.ggml.merges", v.merges);
  if (v.bos_id >= 0) w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos_id));
  if (v.eos_id >= 0) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos_id));
  if (v.unk_id >= 0) w.add_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(v.unk_id));
  if (v.add_bos) w.add_bool("tokenizer.ggml.add_bos_token", *v.add_bos);
  if (v.add_space_prefix) w.add_bool("tokenizer.ggml.add_space_prefix", *v.add_space_prefix);
}

}  // namespace hessq::tokenizer
