// Checkpoints by path: a llama2.c .bin file, a HuggingFace directory (config.json + safetensors,
// single file or sharded), a GGUF file (its tensors dequantized: gguf_checkpoint.hpp) or a quantized
// .hessq directory (hessq.json, see hessq_format.hpp).
// read_checkpoint gives the raw config and tensors (for convert; a .hessq's weights dequantized),
// load_model the validated, runnable model (a .hessq's quantized linears as model::QuantizedLinear).
#pragma once
#include <map>
#include <optional>
#include <string>

#include "hessq/core/tensor.hpp"
#include "hessq/io/dtype.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/model/model.hpp"

namespace hessq::io {

struct Checkpoint {
  model::ModelConfig cfg;
  TensorMap tensors;               // HF names, in cfg.rope_style
  std::optional<Tensor> legacy_rope;  // llama2.c freq_cis tables, carried for lossless round trips
};

// The side file of an HF directory converted from llama2.c that carries its legacy RoPE tables.
inline constexpr const char* kLegacyRopeFile = "llama2c_rope.safetensors";

enum class CheckpointKind { Llama2c, HfDirectory, Gguf, Hessq };
CheckpointKind checkpoint_kind(const std::string& path);  // throws naming the path if neither

Checkpoint read_checkpoint(const std::string& path);
model::Model load_model(const std::string& path);

// Writes an HF directory (config.json, model.safetensors stored as `dtype` (F32, F16 or BF16), and
// llama2c_rope.safetensors when the checkpoint carries legacy tables), atomically. q/k rows are
// converted to the HF layout.
// `extra_files` ({name: contents}, e.g. a tokenizer.json) are written into the directory too.
void write_hf_checkpoint(const std::string& dir, Checkpoint ck, DType dtype = DType::F32,
                         const std::map<std::string, std::string>& extra_files = {});
// write_hf_checkpoint for a checkpoint that is produced rather than held (e.g. synthetic weights at
// full scale): its tensors are exactly model::checkpoint_layout(cfg), in the HF layout (cfg.rope_style
// must be Half), and `fill` is asked for each of them in bounded chunks (see
// write_safetensors_f32_streamed), so memory stays bounded whatever the model size. Every chunk is
// checked for NaN/Inf. Given the same values, the files are those write_hf_checkpoint writes.
void write_hf_checkpoint_streamed(const std::string& dir, const model::ModelConfig& cfg, DType dtype,
                                  const F32ChunkSource& fill,
                                  const std::map<std::string, std::string>& extra_files = {});
// Writes a llama2.c legacy .bin, atomically; q/k rows are converted to the interleaved layout.
void write_llama2c_checkpoint(const std::string& path, Checkpoint ck);

// The tokenizer that belongs beside a model: tokenizer.bin / tok512.bin next to a llama2.c file,
// tokenizer.json / tokenizer.model inside an HF directory, the file itself for a .gguf (its vocabulary
// is in its metadata). Empty if none is found.
std::string default_tokenizer_path(const std::string& model_path);

}  // namespace hessq::io
