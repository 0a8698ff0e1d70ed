// TensorStore: a checkpoint's tensors read on demand (io::StoredTensor): each stays where it is stored
// (a region of a memory-mapped file in its dtype, or an in-memory fp32 tensor) until a caller asks for
// fp32 values: one block's weights (layer), a few embedding rows (embed), everything (all_f32).
// release_layer() drops a block's pages from this process's resident memory once it has been
// converted, so streaming through a checkpoint larger than memory keeps the resident set at about one
// block.
// Names and shapes are validated against the model's layout when the store is opened (no data is
// read then); values are checked for NaN/Inf as they are converted.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "hessq/core/tensor.hpp"
#include "hessq/io/stored_tensor.hpp"
#include "hessq/model/model.hpp"

namespace hessq::io {

class TensorStore {
 public:
  model::ModelConfig cfg;
  std::string source;                 // the checkpoint path (or "in-memory model")
  std::optional<Tensor> legacy_rope;  // llama2.c freq_cis tables (carried by convert)
  std::map<std::string, StoredTensor> tensors;

  const StoredTensor& at(const std::string& name) const;  // throws naming the source
  const StoredTensor* find(const std::string& name) const;
  // Block `layer`'s norms and DenseLinears in fp32, NaN/Inf checked.
  model::LayerWeights layer(int l) const;
  // Drops block `layer`'s tensors from resident memory (StoredTensor::release).
  void release_layer(int l) const;
  // x[t, :] = embedding row of tokens[t] (range checked), for t < n.
  void embed(const int* tokens, int n, float* x) const;
  // Every tensor in fp32 (the whole model: for convert, eval and the in-memory paths).
  TensorMap all_f32() const;
  // Bytes of every tensor as stored.
  int64_t stored_bytes() const;
};

// A llama2.c .bin, HF directory (single or sharded safetensors) or GGUF file, names and shapes
// validated, nothing converted. A .hessq directory is refused here (it is a quantized model; see hessq_format.hpp).
TensorStore open_tensor_store(const std::string& path);
// The tensors of an in-memory model whose linears are all DenseLinear (views, no copy).
TensorStore tensor_store_of(const model::Model& m);

}  // namespace hessq::io
