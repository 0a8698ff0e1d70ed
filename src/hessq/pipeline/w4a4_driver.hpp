// The sequential W4A4 driver (after GPTQ's llama_sequential; stages in w4a4_config.hpp):
//   0. rotate (optional): transforms::rotate_model on a copy of the float model;
//   1. rank allocation (optional): ARHQ/SVDQuant rank curves of every linear on the float (rotated)
//      model's calibration inputs, ranks chosen under the global budget (w4a4_alloc.hpp);
//   2. for each block k: its inputs from the model whose blocks < k are already W4A4 (activation
//      quantizers running), so H, G and the smoothing statistics see what the deployed model feeds
//      block k (w4a4_calib.hpp); smoothing search per linear; with smoothing and ARHQ a second pass
//      for G in each linear's smoothed space; then each linear solved (w4a4_linear.hpp) and replaced
//      by a runtime::ActQuantLinear (wrapped in the model::HadamardLinear for a rotated down_proj).
// Memory: O(n^2) statistics per input plus a capped token sample (W4a4Config::smooth_tokens,
// diag_tokens), independent of the number of calibration tokens. Cost: block k re-runs blocks 0..k.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "hessq/calib/windows.hpp"
#include "hessq/model/model.hpp"
#include "hessq/pipeline/w4a4_config.hpp"

namespace hessq::pipeline {

struct W4a4Options {
  bool progress = true;  // a Progress bar over blocks x linears
};

struct W4a4Result {
  model::Model model;                                         // every block linear an ActQuantLinear
  std::map<std::string, nlohmann::ordered_json> diagnostics;  // by linear name
  // Totals over the block linears: params, extra_params (branch + smoothing), extra_params_pct,
  // bits_per_weight (effective: residual format + branch + smoothing), mean diagnostics per proj.
  nlohmann::ordered_json summary;
  nlohmann::ordered_json timing;    // seconds per stage: rotate, allocate, calibration, smoothing, lowrank, residual
  nlohmann::ordered_json rotation;  // transforms::rotate_report_json, or null
};

// `float_model` is not modified (the result shares its untouched tensors).
W4a4Result quantize_model_w4a4(const model::Model& float_model, const W4a4Config& c, const calib::Windows& windows,
                               const W4a4Options& opt = {});

}  // namespace hessq::pipeline
