// Synthetic checkpoints: the real config shapes of known models with seeded random weights. They are
// for speed and scale tests only; their outputs mean nothing.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hessq/core/tensor.hpp"
#include "hessq/model/config.hpp"

namespace hessq::model {

std::vector<std::string> synth_shape_names();  // "qwen3-4b", "llama-2-7b", ...

// The named model's config with `layers` layers (0: all). Throws listing the known names.
ModelConfig synth_config(const std::string& like, int layers);

// Seeded weights: block linears ~ N(0, 1/in), embeddings and head ~ N(0, 0.02^2), norms = 1,
// biases ~ N(0, 0.02^2).
// Identical for identical (cfg, seed), independent of the thread count.
TensorMap synth_tensors(const ModelConfig& cfg, uint64_t seed);

// A byte-level BPE tokenizer with no merges (ids 0..255 = bytes, 256 = "<|endoftext|>" as BOS and
// EOS), as {file name: contents} for tokenizer.json and tokenizer_config.json, so a synthetic
// directory can encode any text.
std::map<std::string, std::string> synth_tokenizer_files();

}  // namespace hessq::model
