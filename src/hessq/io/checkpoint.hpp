// Checkpoints by path: a llama2.c .bin file, a HuggingFace directory (config.json + safetensors,
// single file or sharded) or a quantized .hessq directory (hessq.json, see hessq_format.hpp).
// read_checkpoint gives the raw config and tensors (for convert; a .hessq's weights dequantized),
// load_model the validated, runnable model (a .hessq's quantized linears as runtime::QuantizedLinear).
#pragma once
#include <map>
#include <optional>
#include <string>

#include "hessq/core/tensor.hpp"
#include "hessq/io/dtype.hpp"
#include "hessq/model/model.hpp"

namespace hessq::io {

struct Checkpoint {
  model::ModelConfig cfg;
  TensorMap tensors;               // HF names, in cfg.rope_style
  std::optional<Tensor> legacy_rope;  // llama2.c freq_cis tables, carried for lossless round trips
};

enum class CheckpointKind { Llama2c, HfDirectory, Hessq };
CheckpointKind checkpoint_kind(const std::string& path);  // throws naming the path if neither

Checkpoint read_checkpoint(const std::string& path);
model::Model load_model(const std::string& path);

// Writes an HF directory (config.json, model.safetensors stored as `dtype` (F32, F16 or BF16), and
// llama2c_rope.safetensors when the checkpoint carries legacy tables), atomically. q/k rows are
// converted to the HF layout.
// `extra_files` ({name: contents}, e.g. a tokenizer.json) are written into the directory too.
void write_hf_checkpoint(const std::string& dir, Checkpoint ck, DType dtype = DType::F32,
                         const std::map<std::string, std::string>& extra_files = {});
// Writes a llama2.c legacy .bin, atomically; q/k rows are converted to the interleaved layout.
void write_llama2c_checkpoint(const std::string& path, Checkpoint ck);

// The tokenizer that belongs beside a model: tokenizer.bin / tok512.bin next to a llama2.c file,
// tokenizer.json / tokenizer.model inside an HF directory. Empty if none is found.
std::string default_tokenizer_path(const std::string& model_path);

}  // namespace hessq::io
