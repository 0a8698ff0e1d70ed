// The .hessq quantized-model format (version 3): a directory holding
//   model-00001-of-000NN.safetensors ...  one shard per decoder block (its norms and linears,
//                      io/hessq_linear.hpp), then one with the embedding, the final norm and the head
//                      (stored as the source stored them: F32, F16 or BF16; F32 when transformed)
//   model.safetensors.index.json  {"metadata": {"total_size": bytes}, "weight_map": {tensor: shard}}
//   hessq.json         the manifest: format version, tool version and commit, the model config
//                      (hessq's own fields, incl. rope_style, plus the HF config.json when HF can
//                      express it), the recipe, the calibration summary, one record per quantized
//                      linear (io/hessq_linear.hpp) with its diagnostics, "embeddings": the records of a
//                      quantized embedding / head (quantize --head-format), the summary, totals (bits per
//                      weight over the quantized linears and over all parameters) and timing;
//   a tokenizer file   copied from the source model, so eval/generate find it.
// Older versions are read too: version 1 (one model.safetensors) and 2 (shards) store every format in
// the planar layout; version 3 stores INT weights as int blocks (the packed runtime's layout), and
// older INT weights run decoded to fp32 (a message says so).
// q/k rows are stored in the source model's RoPE layout (llama2.c: interleaved), which the config's
// rope_style records; HF's config.json cannot express interleaved RoPE, so hessq.json's "config" is
// authoritative and "hf_config" is informational (null for interleaved models).
//
// Writing streams (HessqWriter): each block's shard is written (to a temporary name, fsynced, renamed)
// as soon as the block is quantized, into the side directory "<dir>.partial", with the block's records
// in "block-00003.json" written after its shard; the manifest and the index come last and the side
// directory is renamed to <dir> only when everything is there. A killed run leaves <dir> untouched and
// "<dir>.partial" holding every completed block, which a rerun with --resume continues from (the
// run's fingerprint, in "run.json", must match). Readers refuse newer format versions.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/io/checkpoint.hpp"
#include "hessq/io/stored_tensor.hpp"
#include "hessq/model/model.hpp"
#include "hessq/model/quantized_linear.hpp"

namespace hessq::io {

inline constexpr int kHessqFormatVersion = 3;
inline constexpr const char* kHessqManifestFile = "hessq.json";

// A quantized embedding or head by module name ("model.embed_tokens", "lm_head"; a tied model's one
// quantized embedding serves both), stored like a block linear and listed in hessq.json "embeddings".
using QuantizedTensors = std::vector<std::pair<std::string, std::shared_ptr<const model::QuantizedLinear>>>;

bool is_hessq_dir(const std::string& path);  // a directory with a hessq.json
std::string hessq_partial_dir(const std::string& dir);  // "<dir>.partial": where an output is assembled

// What the quantizer knows beyond the model, written into hessq.json.
struct HessqMeta {
  nlohmann::ordered_json recipe = nlohmann::ordered_json::object();
  nlohmann::ordered_json calibration = nlohmann::ordered_json::object();
  nlohmann::ordered_json summary = nlohmann::ordered_json::object();  // e.g. mean diagnostics per projection
  nlohmann::ordered_json timing = nlohmann::ordered_json::object();   // the only non-deterministic part
  std::string source;  // the source model, for the record
};

// Where a .hessq output is assembled, block by block.
class HessqWriter {
 public:
  // `dir`: the output; the work happens in "<dir>.partial". An existing `dir` that is not a .hessq
  // directory (a file, another directory) is refused; a previous .hessq output is replaced only with
  // `force`. An existing "<dir>.partial" is continued with `resume` when its run.json holds the same
  // `fingerprint` (else refused, naming what changed) and refused without `resume`.
  HessqWriter(std::string dir, int n_layers, nlohmann::ordered_json fingerprint, bool resume, bool force);
  HessqWriter(const HessqWriter&) = delete;
  HessqWriter& operator=(const HessqWriter&) = delete;

  const std::string& partial_dir() const { return partial_; }
  int completed_blocks() const { return completed_; }  // blocks [0, k) are in the side directory
  // A completed block, read back from its shard (for a resumed run's replay).
  model::LayerWeights load_block(int layer, const model::ModelConfig& cfg) const;
  // Block `layer` (its norms and linears) and the diagnostics of its quantized linears (by name).
  void write_block(int layer, const model::LayerWeights& L, const model::ModelConfig& cfg,
                   const std::map<std::string, nlohmann::ordered_json>& diagnostics);
  // The embedding, final norm and head, and the quantized model's config.
  void write_tensors(const model::ModelConfig& cfg, const std::vector<StoredTensor>& tensors,
                     const QuantizedTensors& quantized = {});
  // Every record written so far (this run and the resumed one), diagnostics included, by name.
  std::map<std::string, nlohmann::ordered_json> diagnostics() const;
  // The index, hessq.json and `extra_files` ({name: contents}, e.g. the tokenizer); then the side
  // directory becomes `dir`. Every block and write_tensors must be done.
  void commit(const HessqMeta& meta, const std::map<std::string, std::string>& extra_files);

 private:
  std::string shard_name(int index) const;  // index 0..n_layers (n_layers: the embedding/head shard)

  std::string dir_, partial_;
  int n_layers_ = 0, completed_ = 0;
  bool force_ = false, tensors_done_ = false;
  model::ModelConfig cfg_;
};

// Writes an in-memory model (block linears QuantizedLinear, ActQuantLinear, HadamardLinear or
// DenseLinear) to `dir` at once (a HessqWriter without resume, replacing a previous .hessq output).
void write_hessq(const std::string& dir, const model::Model& m, const HessqMeta& meta,
                 const std::map<std::string, nlohmann::ordered_json>& diagnostics = {},
                 const std::map<std::string, std::string>& extra_files = {});

// hessq.json, checked: "format" is "hessq" and the version is one this build reads.
nlohmann::ordered_json read_hessq_manifest(const std::string& dir);
// The model with every quantized linear as stored (QuantizedLinear, ActQuantLinear, HadamardLinear).
model::Model load_hessq_model(const std::string& dir);
// The same as a float checkpoint: dequantized weights under "<name>.weight" (for convert/inspect).
Checkpoint read_hessq_checkpoint(const std::string& dir);

// hessq's ModelConfig as JSON and back (every field, including rope_style).
nlohmann::ordered_json model_config_json(const model::ModelConfig& cfg);
model::ModelConfig model_config_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace hessq::io
