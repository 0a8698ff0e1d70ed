// `hessq export --to gguf`: a model as a GGUF v3 file llama.cpp loads, with the metadata llama.cpp's
// converter (convert_hf_to_gguf.py) writes:
//   general.architecture "llama" (Llama, Mistral, SmolLM), "qwen2" or "qwen3"; general.name,
//   general.file_type; <arch>.context_length, embedding_length, block_count, feed_forward_length,
//   attention.head_count, attention.head_count_kv, attention.key_length / value_length,
//   attention.layer_norm_rms_epsilon, rope.freq_base, rope.dimension_count, vocab_size;
//   Llama-3 RoPE scaling as llama.cpp's "rope_freqs.weight" table of per-frequency divisors (plus the
//   rule's parameters under hessq.rope.llama3.*, which llama.cpp ignores and hessq reads back);
//   the tokenizer (tokenizer.ggml.*, tokenizer/gguf_vocab.hpp) of the model: a GGUF source's keys are
//   copied unchanged, any other tokenizer is converted (llama2.c tokenizer.bin and SentencePiece as
//   model "llama", byte-level BPE as "gpt2"); padded to the embedding's rows with unused
//   "[PAD<id>]" tokens when the vocabulary is smaller, as llama.cpp's converter does;
//   "hessq.version": marks the file as hessq's (an existing output is replaced only when it has it).
// Tensors: llama.cpp's names (io/gguf_checkpoint.hpp hf_to_gguf_name); for "llama" the q/k rows in
// llama.cpp's interleaved RoPE order (its converter's permute), for qwen2/qwen3 HF's order. Norms and
// biases are F32; the other float tensors in `float_type`. The model is streamed: one tensor is in
// memory at a time.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace hessq::exporting {

struct GgufExportOptions {
  std::string float_type = "f32";  // f32, f16 or bf16: the storage of float matrices
  std::string tokenizer;           // default: the tokenizer beside the model (io::default_tokenizer_path)
  bool force = false;              // replace an existing file that hessq wrote
  // general.file_type (llama.h's llama_ftype, e.g. 15 for Q4_K_M); default: the float type's, or for a
  // quantized model the type of its first block linear.
  std::optional<uint32_t> file_type;
};

// Throws hessq::Error naming the file, tensor and reason; nothing is written then.
void export_gguf(const std::string& model_path, const std::string& out, const GgufExportOptions& opt);

// The check export_gguf makes of `out` first: absent, or (with force) a GGUF file hessq wrote.
void check_gguf_output(const std::string& out, bool force);

}  // namespace hessq::exporting
