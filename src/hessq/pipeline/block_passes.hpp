// The block-scope passes (passes.hpp), applied to one block's float weights from its calibration
// statistics, in recipe order:
//   awq          s = absmean^alpha per shared input (alpha searched against the weight format),
//                W <- W diag(s) for the input's readers, 1/s folded into the producer (the RMSNorm, v_proj
//                rows for o_proj, up_proj rows for down_proj), the statistics rescaled: the float block
//                computes the same function
//   osaq         W <- W + dW with dW in the near-null space of H (METHODS.md "OSAQ"), guarded by the
//                output-change ratio
//   smoothquant  a smoothing vector s per linear (alpha searched on the quantized layer's output error
//                with the recipe's formats), kept as the layer's input transform x / s
// Diagnostics per linear go into BlockWork::diag ("awq", "osaq", "smooth").
#pragma once
#include <array>
#include <optional>

#include <nlohmann/json.hpp>

#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/model/model.hpp"
#include "hessq/pipeline/block_stats.hpp"
#include "hessq/pipeline/recipe.hpp"

namespace hessq::pipeline {

// One block's weights while its passes run, by model::proj_index (inputs by model::input_index).
struct BlockWork {
  std::array<methods::MatF, 7> W;                     // current weight, every pass applied
  std::array<std::optional<methods::MatF>, 7> W_ref;  // the float layer in the current space when OSAQ changed W
  std::array<std::optional<Tensor>, 7> bias;
  std::array<linalg::Vec, 4> c;                       // cumulative input scaling: X_now = X_orig / c (AWQ)
  std::array<std::optional<methods::VecF>, 7> s;      // smoothing vectors: the linear sees X_now / s
  std::array<nlohmann::ordered_json, 7> diag;
  Tensor attn_norm, ffn_norm;                         // RMSNorm weights (AWQ folds 1/s into them)

  const methods::MatF& ref(int p) const { return W_ref[p] ? *W_ref[p] : W[p]; }
  bool scaled() const;  // some input is scaled (AWQ) or smoothed: raw-space statistics no longer apply
};

// The float weights of block L (DenseLinears, or the inner DenseLinear of a HadamardLinear);
// throws naming the linear for anything else.
BlockWork begin_block(const model::LayerWeights& L, int layer, const model::ModelConfig& cfg);

// Runs every block-scope pass of `r` on `w`, rescaling `bc` as inputs are scaled.
void run_block_passes(BlockWork& w, BlockCalib& bc, const Recipe& r, const model::ModelConfig& cfg, int layer);

// diag(1/c) H diag(1/c) etc.: the statistics of X / c.
void scale_stats(calib::Stats& st, const linalg::Vec& c);

}  // namespace hessq::pipeline
