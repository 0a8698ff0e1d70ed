// quantize --ggml-type PRESET: every tensor of a model in the ggml type llama-quantize would give it
// (formats/ggml_presets.hpp: Q4_K_M, Q3_K_S, Q4_0, ...), as hessq weight specs, so that hessq's
// solvers (rtn, gptq, awq, osaq+gptq) quantize onto exactly the per-tensor types of llama-quantize's
// file and the two compare at equal size:
//   - each block linear: its preset type (more bits for attn_v / ffn_down in some layers, the
//     fallbacks for rows that do not fill a block), or float when the preset falls back to F16;
//   - the token embedding and an untied head: their preset types (the output rule: Q6_K, or Q8_0),
//     quantized by RTN (pipeline/head_quant.hpp), or kept float on an F16 fallback.
// GGUF holds plain weights only: a recipe with an activation format, a low-rank branch, smoothing or
// a rotation (whose down_proj Hadamard runs online) is refused, saying why.
#pragma once
#include <optional>
#include <string>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/model/config.hpp"
#include "hessq/pipeline/recipe.hpp"

namespace hessq::pipeline {

struct GgmlPlan {
  std::string preset;                                 // canonical name, e.g. "Q4_K_M"
  LinearSpecs linears;                                // [layer][proj]; nullopt: float (F16 in the GGUF)
  std::optional<formats::QuantSpec> embedding, head;  // nullopt: float; head unused when tied
};

// `preset` in any case ("q4_k_m" too). Throws naming the preset and listing the known ones.
GgmlPlan ggml_plan(const std::string& preset, const model::ModelConfig& cfg);

// The canonical preset name ("q4_k_m" -> "Q4_K_M"), or a throw listing the known presets.
std::string canonical_ggml_preset(const std::string& preset);

// Throws, saying why, when the layers r produces cannot be stored in GGUF (above) or its weight format
// is not a ggml type; `what` names the request in the message ("--out model.gguf").
void check_gguf_storable(const Recipe& r, const std::string& what);

// Gives r the plan's per-linear specs (its solver spec becomes the preset's default type), then
// check_gguf_storable.
void apply_ggml_plan(Recipe& r, const GgmlPlan& plan);

}  // namespace hessq::pipeline
