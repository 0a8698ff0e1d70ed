// Synthetic checkpoints: the real config shapes of known models with seeded random weights. They are
// for speed and scale tests only; their outputs mean nothing.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hessq/core/tensor.hpp"
#include "hessq/model/config.hpp"
#include "hessq/model/model.hpp"

namespace hessq::model {

std::vector<std::string> synth_shape_names();  // "qwen3-4b", "llama-2-7b", ...

// The named model's config with `layers` layers (0: all). Throws listing the known names.
ModelConfig synth_config(const std::string& like, int layers);

// Seeded weights: block linears ~ N(0, 1/in), embeddings and head ~ N(0, 0.02^2), norms = 1,
// biases ~ N(0, 0.02^2).
// Identical for identical (cfg, seed), independent of the thread count.
// Each tensor's values come in blocks of 4096 (flat, row-major), each block from its own splitmix64
// stream seeded by (seed, FNV-1a of the tensor name, block index), so any element range of any tensor
// can be produced on its own: SynthWeights::fill gives exactly the values synth_tensors holds.
class SynthWeights {
 public:
  SynthWeights(const ModelConfig& cfg, uint64_t seed);
  const ModelConfig& config() const { return cfg_; }
  const std::vector<TensorSpec>& layout() const { return layout_; }  // checkpoint_layout(cfg)

  // Elements [begin, end) (flat, row-major) of tensor `name` into out[0, end - begin). Throws for a
  // name outside the layout or a range outside the tensor. Parallel (OpenMP) over 4096-value blocks.
  void fill(const std::string& name, int64_t begin, int64_t end, float* out) const;
  Tensor tensor(const std::string& name) const;  // the whole tensor

 private:
  struct Init {
    int64_t numel = 0;
    bool ones = false;    // norms
    float stddev = 0.0f;  // otherwise N(0, stddev^2)
  };
  ModelConfig cfg_;
  uint64_t seed_ = 0;
  std::vector<TensorSpec> layout_;
  std::map<std::string, Init> init_;
};

// Every tensor of SynthWeights(cfg, seed), in memory (fp32): for small shapes.
TensorMap synth_tensors(const ModelConfig& cfg, uint64_t seed);

// A byte-level BPE tokenizer with no merges (ids 0..255 = bytes, 256 = "<|endoftext|>" as BOS and
// EOS), as {file name: contents} for tokenizer.json and tokenizer_config.json, so a synthetic
// directory can encode any text.
std::map<std::string, std::string> synth_tokenizer_files();

}  // namespace hessq::model
