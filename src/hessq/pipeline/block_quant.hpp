// Quantizing one decoder block from its calibration statistics: the recipe's transforms in order
// (osaq: W += dW; awq: W diag(s) with 1/s folded into the producer), then its solver (rtn, gptq) on
// each of the block's seven linears, which become runtime::QuantizedLinear. Diagnostics per linear:
// proxy losses (against the weight the solver received and against the float layer), held-out
// losses, OSAQ's K / max|W| / output-change ratio / null-space angles, AWQ's alpha and losses.
#pragma once
#include <array>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "hessq/calib/sequential.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/model/model.hpp"
#include "hessq/pipeline/recipe.hpp"

namespace hessq::pipeline {

// What a block is solved from, by calib::input_index. Transforms rescale these in place.
struct BlockCalib {
  std::array<calib::Stats, 4> st;                          // calibration windows
  std::array<std::optional<calib::Stats>, 4> heldout;      // held-out windows (diagnostics only)
  std::array<std::optional<calib::Stats>, 4> half_a, half_b;  // the two halves (OSAQ stability)
  std::array<methods::MatF, 4> X;                          // raw inputs [tokens, n], only for dumps
};

// One solved linear as the quantizer saw it (for --dump).
struct LinearDump {
  int layer = 0;
  model::Proj proj = model::Proj::Q;
  calib::InputKind input = calib::InputKind::Attn;
  const methods::MatF& W;    // [m, n] the weight the solver received (after transforms)
  const methods::MatF& X;    // [tokens, n] the calibration inputs in the same (scaled) space
  const methods::MatF& W_q;  // [m, n] dequantized result
};

struct BlockOptions {
  bool transforms_only = false;  // apply the transforms, keep float linears (tests: folds are exact)
  std::function<void(const LinearDump&)> on_linear;  // called per solved linear (needs BlockCalib::X)
};

// The input dim a solver works on: n, or n zero-padded to a multiple of the group when the spec is
// grouped, does not divide n, and `pass.pad`; throws naming `what` when padding is off.
int64_t solver_input_dim(const Pass& solver, int64_t n, const std::string& what);

// Solves block `layer` of `m` in place (its linears, and its norms when AWQ folds into them).
// Returns diagnostics by linear name; advances `progress` once per linear.
std::map<std::string, nlohmann::ordered_json> quantize_block(model::Model& m, int layer, const Recipe& recipe,
                                                             BlockCalib& bc, const BlockOptions& opt,
                                                             Progress* progress);

}  // namespace hessq::pipeline
