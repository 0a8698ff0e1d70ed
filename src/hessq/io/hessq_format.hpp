// The .hessq quantized-model format: a directory holding
//   model.safetensors  per quantized linear `<name>.qweight` (U8, packed codes, 1-D), `<name>.scales`
//                      (the format's scale storage: F16 for INT, F32, F8_E4M3, or U8 holding E8M0),
//                      `<name>.zeros` (U8, asymmetric INT only); `<name>.bias` and every untouched
//                      tensor (embeddings, norms, head, float linears) as F32 under its HF name;
//   hessq.json         the manifest: format version, tool version and commit, the model config
//                      (hessq's own fields, incl. rope_style, plus the HF config.json when HF can
//                      express it), the recipe, the calibration summary, one record per quantized
//                      linear {name, layer, proj, format, shape, bits_per_weight, scale_dtype,
//                      global_scale, diagnostics} and totals (bits per weight over the quantized
//                      linears and over all parameters);
//                      W4A4 linears add their activation format, low-rank branch, smoothing vector
//                      and online Hadamard (tensors and record fields in io/hessq_w4a4.hpp);
//   a tokenizer file   copied from the source model, so eval/generate find it.
// q/k rows are stored in the source model's RoPE layout (llama2.c: interleaved), which the config's
// rope_style records; HF's config.json cannot express interleaved RoPE, so hessq.json's "config" is
// authoritative and "hf_config" is informational (null for interleaved models).
// Written atomically (AtomicDir). Readers refuse newer format versions.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "hessq/io/checkpoint.hpp"
#include "hessq/model/model.hpp"

namespace hessq::io {

inline constexpr int kHessqFormatVersion = 1;
inline constexpr const char* kHessqManifestFile = "hessq.json";

bool is_hessq_dir(const std::string& path);  // a directory with a hessq.json

// "model.layers.3.self_attn.q_proj": the HF name of a block linear without ".weight".
std::string linear_tensor_prefix(int layer, model::Proj p);

// What the quantizer knows beyond the model, written into hessq.json.
struct HessqMeta {
  nlohmann::ordered_json recipe = nlohmann::ordered_json::object();
  nlohmann::ordered_json calibration = nlohmann::ordered_json::object();
  std::map<std::string, nlohmann::ordered_json> diagnostics;  // by linear_tensor_prefix
  nlohmann::ordered_json summary = nlohmann::ordered_json::object();  // e.g. mean diagnostics per projection
  nlohmann::ordered_json timing = nlohmann::ordered_json::object();  // the only non-deterministic part
};

// Writes `m` (block linears are runtime::QuantizedLinear or DenseLinear) to the directory `dir`,
// atomically. `extra_files` ({file name: contents}, e.g. the tokenizer) are copied in.
void write_hessq(const std::string& dir, const model::Model& m, const HessqMeta& meta,
                 const std::map<std::string, std::string>& extra_files = {});

// hessq.json, checked: "format" is "hessq" and the version is one this build reads.
nlohmann::ordered_json read_hessq_manifest(const std::string& dir);
// The model with every quantized linear as a runtime::QuantizedLinear (W_q decoded once, here).
model::Model load_hessq_model(const std::string& dir);
// The same as a float checkpoint: dequantized weights under "<name>.weight" (for convert/inspect).
Checkpoint read_hessq_checkpoint(const std::string& dir);

// hessq's ModelConfig as JSON and back (every field, including rope_style).
nlohmann::ordered_json model_config_json(const model::ModelConfig& cfg);
model::ModelConfig model_config_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace hessq::io
