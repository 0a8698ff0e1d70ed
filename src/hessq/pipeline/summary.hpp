// The summary of a quantization run, from its per-linear diagnostics (by linear name): totals over
// the quantized linears and the mean of each numeric diagnostic per projection and over all ("all").
//   {"linear_params", "extra_params", "extra_params_pct", "bits_per_weight",
//    "mean": {"all": {...}, "down_proj": {...}, ...}}
// Means cover loss_rel, loss_rel_heldout, snr_db, snr_rtn_db, rank, bits_per_weight, smooth_alpha,
// awq_alpha and OSAQ's K, output ratio, max |W| (osaq_*) and rejection rate.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace hessq::pipeline {

nlohmann::ordered_json summarize_diagnostics(const std::map<std::string, nlohmann::ordered_json>& diag);

}  // namespace hessq::pipeline
