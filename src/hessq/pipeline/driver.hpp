// The sequential PTQ driver (after GPTQ's llama_sequential): for each block k, collect calib::Stats
// of block k's linear inputs by running the model on the calibration windows, blocks 0..k only,
// then apply the recipe to block k (block_quant.hpp). With recipe.sequential (default) the inputs
// come from the model whose blocks 0..k-1 are already quantized; otherwise from the float model.
// Statistics are accumulated in double per window, so memory does not grow with the number of
// calibration tokens (only --dump keeps raw inputs). Cost: block k re-runs blocks 0..k, O(L^2 / 2)
// block forwards in all, traded for O(1) activation memory in the number of tokens.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "hessq/calib/windows.hpp"
#include "hessq/model/model.hpp"
#include "hessq/pipeline/block_quant.hpp"
#include "hessq/pipeline/recipe.hpp"

namespace hessq::pipeline {

struct DriverOptions {
  BlockOptions block;     // transforms_only, on_linear (dump)
  bool progress = true;   // a Progress bar over blocks x linears
};

struct QuantizeResult {
  model::Model model;                                         // block linears quantized
  std::map<std::string, nlohmann::ordered_json> diagnostics;  // by linear name
  nlohmann::ordered_json summary;  // means per projection: loss_rel, loss_rel_heldout, osaq K, ...
  nlohmann::ordered_json timing;   // seconds: calibration forwards, solving, total, per linear (not in diagnostics)
};

// Checks the recipe against the model before any work: the solver's format is valid and every
// linear's input dim fits its group (or is padded). Throws naming the linear.
void check_recipe_fits(const Recipe& recipe, const model::ModelConfig& cfg);

// `float_model` is not modified (the result shares its untouched tensors).
QuantizeResult quantize_model(const model::Model& float_model, const Recipe& recipe, const calib::Windows& windows,
                              const DriverOptions& opt);

}  // namespace hessq::pipeline
