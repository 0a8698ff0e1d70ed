// A GGUF file (llama.cpp's format) as a float checkpoint: the config from its `llama.*` metadata, its
// tensors under their HF names as StoredTensors of the mapping (block-quantized ones, e.g. Q4_1,
// are dequantized on demand: io/ggml_dequant.hpp). The float model hessq sees is the dequantized one.
// Supported: general.architecture "llama" (Llama, Mistral, SmolLM), "qwen2" (q/k/v biases) and "qwen3"
// (q/k norms; both with HF's q/k rows: NeoX RoPE); a rope_freqs table only with the Llama-3 rule
// recorded beside it (kLlama3RopeKeys, written by hessq's GGUF export). llama.cpp
// stores llama q/k rows permuted for its interleaved ("normal") RoPE, which is llama2.c's layout:
// the config says RopeStyle::Interleaved and the rows are used as stored. A missing output.weight
// means tied embeddings.
#pragma once
#include <map>
#include <string>

#include "hessq/io/gguf.hpp"
#include "hessq/io/stored_tensor.hpp"
#include "hessq/model/config.hpp"

namespace hessq::io {

// Llama-3 RoPE scaling as hessq records it beside llama.cpp's rope_freqs table (factor,
// low_freq_factor, high_freq_factor, original_max_position): llama.cpp ignores these keys.
inline constexpr const char* kLlama3RopeKeys[] = {"hessq.rope.llama3.factor", "hessq.rope.llama3.low_freq_factor",
                                                  "hessq.rope.llama3.high_freq_factor",
                                                  "hessq.rope.llama3.original_max_position"};

// The model config from the GGUF metadata (and the tensor table: tied embeddings, vocab size).
// Throws naming the file and the missing or unsupported key.
model::ModelConfig gguf_model_config(const GgufFile& g);
// The HF name of a GGUF tensor ("blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight");
// throws naming the file and tensor for a name hessq does not know.
std::string gguf_to_hf_name(const std::string& gguf_name, const std::string& file);
// The inverse: an HF tensor name as llama.cpp names it ("model.norm.weight" -> "output_norm.weight").
std::string hf_to_gguf_name(const std::string& hf_name);
// Every tensor under its HF name (no data read).
std::map<std::string, StoredTensor> gguf_stored_tensors(const GgufFile& g);

}  // namespace hessq::io
