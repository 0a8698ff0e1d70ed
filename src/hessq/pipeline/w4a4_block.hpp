// One block's W4A4 inputs, ready for the per-linear solver (w4a4_linear.hpp): float weights, the
// smoothing vector chosen per linear, H and the low-rank metric in each linear's (smoothed) space.
// Shared by the sequential driver and the rank-allocation pass.
#pragma once
#include <array>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "hessq/calib/windows.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/arhq.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/model/model.hpp"
#include "hessq/pipeline/w4a4_config.hpp"

namespace hessq::pipeline {

struct BlockPrep {
  std::array<methods::MatF, 7> W;                     // float weights by model::Proj index
  std::array<std::optional<Tensor>, 7> bias;
  std::array<std::optional<methods::VecF>, 7> s;      // smoothing vectors (when smoothing)
  std::array<nlohmann::ordered_json, 7> diag;         // smoothing alpha / mse per linear
  std::array<std::shared_ptr<const linalg::Mat>, 7> H;              // input second moment, linear's space
  std::array<std::shared_ptr<const methods::Metric>, 7> metric;   // ARHQ metric; null: identity or unused
  std::array<methods::MatF, 4> X_sample;              // raw sampled inputs by calib::input_index
  double calib_s = 0, smooth_s = 0, metric_s = 0;     // forwards (both passes), alpha search, G/eigh
};

// Weights from `target`'s block `layer` (float linears: DenseLinear, or a HadamardLinear around one);
// inputs from running `src` (e.g. the partly quantized model). `ranks` (by proj): a metric is built
// only for linears with rank > 0 under arhq / arhq-h.
BlockPrep prepare_w4a4_block(const model::Model& src, const model::Model& target, int layer,
                             const calib::Windows& windows, const W4a4Config& c, const std::array<int, 7>& ranks);

// The float weight of a block linear: a DenseLinear's W, or the inner DenseLinear's (W M) of a
// HadamardLinear. Throws naming the linear for anything else (e.g. an already quantized block).
const model::DenseLinear& float_linear(const model::Linear& lin, const std::string& name);

}  // namespace hessq::pipeline
