// What the HuggingFace-format exports (--to gptq, --to compressed-tensors) share: a quantized .hessq
// model written as an HF checkpoint directory whose block linears carry a target's quantized tensors.
//
// Written (under export_dir.hpp's side directory, renamed when complete):
//   config.json                       the HF config (io/hf_config.hpp) with "torch_dtype" = the float
//                                     storage type and "quantization_config" = the target's
//   model-000KK-of-000NN.safetensors  one shard per decoder block (norms, biases, the target's tensors
//                                     for each linear), then one with embed_tokens, norm and lm_head;
//                                     metadata {"format": "pt"} (transformers requires it)
//   model.safetensors.index.json      {"metadata": {"total_size"}, "weight_map": {tensor: shard}}
//   tokenizer files                   beside an HF source: tokenizer.json / tokenizer.model with
//                                     tokenizer_config.json, special_tokens_map.json,
//                                     generation_config.json when present. A llama2.c tokenizer.bin
//                                     has no HF form: nothing is written and a warning says so (the
//                                     checkpoint then loads without a tokenizer).
//   hessq_export.json                 the ownership marker (export_dir.hpp)
// Unquantized tensors (embeddings, norms, biases, lm_head) are stored as F16 (default), BF16 or F32;
// an F16 overflow is an error naming the tensor.
//
// RoPE: a .hessq of a llama2.c model keeps its q/k rows in the interleaved layout (rope_style), which
// HF configs cannot express; q_proj / k_proj rows (output channels), their biases and q/k norms are
// permuted into HF's half layout (model/rope_layout.hpp), the quantized tensors row by row through
// HfLinear::row_order, so the export computes the same function.
//
// Refused, naming the tensor, before anything is written: a float input (not a .hessq), a quantized
// embedding or head (quantize --head-format), and block linears the weight-only HF formats cannot
// express: an unquantized one, an online Hadamard rotation of the input (QuaRot), an activation
// quantizer (W4A4 / W4A8), a smoothing vector, a low-rank branch; then whatever the target's check
// refuses (formats, shapes).
#pragma once
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/core/tensor.hpp"
#include "hessq/io/dtype.hpp"
#include "hessq/model/linear.hpp"
#include "hessq/model/quantized_linear.hpp"

namespace hessq::exporting {

struct HfExportOptions {
  std::string model;      // a .hessq directory
  std::string out;        // the output directory
  std::string tokenizer;  // a tokenizer file to copy instead of the one beside the model
  io::DType dtype = io::DType::F16;  // unquantized tensors
  bool force = false;     // replace a previous export
};

// --type for an HF target: "" or "f16" -> F16, "bf16" -> BF16, "f32" -> F32; anything else throws.
io::DType hf_float_dtype(const std::string& type, const std::string& target);

// A tensor a target writes, owning its little-endian bytes.
struct OwnedTensor {
  std::string name;
  io::DType dtype = io::DType::F32;
  Shape shape;
  std::vector<uint8_t> bytes;
};
template <class T>
OwnedTensor owned_tensor(std::string name, io::DType dtype, Shape shape, const std::vector<T>& values) {
  OwnedTensor t{std::move(name), dtype, std::move(shape), std::vector<uint8_t>(values.size() * sizeof(T))};
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

// One block linear to export: its weight and the order of its output rows in the HF layout.
struct HfLinear {
  int layer = 0;
  model::Proj proj = model::Proj::Q;
  std::string name;                    // "model.layers.3.self_attn.q_proj"
  const model::QuantizedLinear* weight = nullptr;
  std::vector<int64_t> row_order;      // output row j = the .hessq's row row_order[j]; empty: identity
};

struct HfQuantTarget {
  std::string name;  // "gptq", for messages
  std::string act_note;  // appended to the refusal of an activation quantizer (why the format has no slot)
  // Throws naming `name` if this weight cannot be written (run on every linear before any output).
  std::function<void(const model::QuantizedLinear& weight, const std::string& name)> check;
  // config.json's "quantization_config", given every (checked) linear; throws if they disagree.
  std::function<nlohmann::ordered_json(const std::vector<HfLinear>& linears)> config;
  // The tensors that stand for "<name>.weight" (full names: "<name>.qweight", ...).
  std::function<std::vector<OwnedTensor>(const HfLinear& linear)> tensors;
};

void write_hf_quantized(const HfExportOptions& opt, const HfQuantTarget& target);

}  // namespace hessq::exporting
