// llama2.c legacy checkpoints (.bin): a 7 x int32 header (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size, seq_len; vocab_size < 0 means an untied output head), then fp32 tensors in a
// fixed order, legacy RoPE tables, and the output head when untied. Tensors are exposed under
// HuggingFace names with RopeStyle::Interleaved (q/k rows as llama2.c stores them).
#pragma once
#include <string>

#include "hessq/core/tensor.hpp"
#include "hessq/model/config.hpp"

namespace hessq::io {

struct Llama2cCheckpoint {
  model::ModelConfig cfg;
  TensorMap tensors;  // zero-copy views of the mapped file
  // The legacy freq_cis tables [2, seq_len, head_dim/2] (cos then sin). The runtime recomputes RoPE and
  // never reads them, but the exporter computed them with its own float cos/sin, which cannot be
  // reproduced bit for bit; keeping them makes a convert round trip byte-identical.
  Tensor legacy_rope;
};

// Throws hessq::Error naming the file on a bad header or a size that does not match the header.
Llama2cCheckpoint read_llama2c(const std::string& path);

// Writes cfg/tensors (HF names, interleaved RoPE rows) in the legacy format, atomically. The legacy
// tables are `legacy_rope` when given (shape [2, seq_len, head_dim/2]), else computed in float32.
void write_llama2c(const std::string& path, const model::ModelConfig& cfg, const TensorMap& tensors,
                   const Tensor* legacy_rope = nullptr);

// The legacy RoPE tables as llama2.c's exporter lays them out, [2, seq_len, head_dim/2].
Shape legacy_rope_shape(const model::ModelConfig& cfg);

}  // namespace hessq::io
