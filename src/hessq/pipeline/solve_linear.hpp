// The one solver entry point per linear: from its float weight, statistics and the recipe to the
// layer the model runs (METHODS.md "Baselines", "ARHQ"):
//   1. smoothing (when the block passes chose s): W_s = W diag(s), the layer divides its input by s;
//   2. branch (svdquant / arhq / arhq-h, rank > 0): L = B A^T from W_s in the metric (I for SVDQuant, G
//      for ARHQ, H + mult beta G for ARHQ-H), optionally refined against the quantized layer (ARHQ's
//      refinement), factors balanced and stored in F16/F32; W_res = W_s - B A^T from the stored factors;
//   3. solver on W_res, zero-padded to the weight group when needed, dispatching on the weight format:
//      rtn (any format; AWQ's clip search when awq asked for it), gptq on INT (methods/gptq.hpp), MXFP4
//      or NVFP4 1x16 grids (methods/gptq_mx.hpp); packed (model::make_quantized_linear);
//   4. the layer: a model::QuantizedLinear, or a model::ActQuantLinear when an activation format,
//      smoothing or a branch is present: Q_x(x / s) Q_w(W_res)^T + b + (x / s A) B^T.
// A linear the recipe keeps float (Recipe::solver_for: a ggml preset's F16 fallback) becomes a
// model::DenseLinear of its weight rounded to F16, the values the GGUF file will hold.
// Diagnostics: proxy losses against the solver's input and the float layer (calibration H, held-out
// rows), the branch's singular values, bits per weight, and with a token sample the layer SNR next to
// the plain quantized layer's.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "hessq/core/tensor.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/arhq.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/model/linear.hpp"
#include "hessq/pipeline/recipe.hpp"

namespace hessq::pipeline {

struct LinearProblem {
  std::string name;                        // "model.layers.3.self_attn.q_proj"
  int layer = 0;                           // its block and projection (Recipe::solver_for)
  model::Proj proj = model::Proj::Q;
  const methods::MatF* W = nullptr;        // [m, n] the weight after the block passes, unsmoothed
  const methods::MatF* W_ref = nullptr;    // the float layer in the same space (diagnostics)
  std::optional<Tensor> bias;              // [m]
  std::optional<methods::VecF> s;          // smoothing vector [n]
  const linalg::Mat* H = nullptr;          // [n, n] second moment of the input the weight multiplies (X / s)
  // The same H when this linear is its last reader: the solver may then take it over (GPTQ factors it
  // in place, so no n x n copy is made; for down_proj of an 8B model that is 1.6 GB). Null: keep it.
  linalg::Mat* H_last_reader = nullptr;
  const methods::Metric* metric = nullptr; // branch metric in the same space (nullptr: identity)
  int rank = 0;                            // branch rank (0: no branch)
  const methods::MatF* sample = nullptr;   // calibration rows [N', n] before smoothing (SNR, refinement)
  const methods::MatF* heldout = nullptr;  // held-out rows [N'', n] before smoothing (diagnostics)
};

struct LinearSolution {
  std::shared_ptr<model::Linear> linear;  // QuantizedLinear or ActQuantLinear
  nlohmann::ordered_json diag;
  double branch_s = 0, solve_s = 0, diag_s = 0;
};

LinearSolution solve_linear(const LinearProblem& p, const Recipe& r);

}  // namespace hessq::pipeline
