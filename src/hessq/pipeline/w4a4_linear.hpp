// One W4A4 linear, from its float weight and calibration statistics to a runtime::ActQuantLinear
// (see w4a4_config.hpp for the stages):
//   1. smoothing (optional): W_s = W diag(s), inputs X / s;
//   2. low-rank branch (optional): L = B A^T of rank r from W_s in the metric (I for SVDQuant, G for
//      ARHQ, H + mult beta G for arhq-h), factors balanced and stored in f16
//      (methods/lowrank_storage.hpp), W_res = W_s - B A^T from the stored factors;
//   3. residual: Q_w(W_res) by RTN or GPTQ (with H of the smoothed input), zero-padded to the weight's
//      group when needed, packed (runtime::make_quantized_linear);
//   4. the layer Q_x(x / s) Q_w(W_res)^T + b + (x / s A) B^T, and its diagnostics.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/arhq.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/pipeline/w4a4_config.hpp"
#include "hessq/runtime/act_quant_linear.hpp"

namespace hessq::pipeline {

// SmoothQuant's alpha search with the run-time (per-token) activation quantizer: for each alpha of
// the grid, s = smooth_scales(W, absmax, alpha) and the output MSE of Q_x(X/s) Q_w(W diag s)^T
// against X W^T on the sampled tokens; the best alpha wins (ties: the smaller). absmax [n] comes from
// every calibration token, X_sample [N', n] is the strided sample.
struct SmoothChoice {
  double alpha = 0;
  methods::VecF s;          // [n]
  std::vector<double> mse;  // per grid point
};
SmoothChoice search_smoothing_w4a4(const methods::MatF& W, const linalg::Vec& absmax, const methods::MatF& X_sample,
                                   const W4a4Config& c);

// X diag(s)^-1 (the division the runtime performs, so the same floats).
methods::MatF divide_columns(const methods::MatF& X, const methods::VecF& s);
// diag(s)^-1 H diag(s)^-1: the second moment of X / s.
linalg::Mat smooth_hessian(const linalg::Mat& H, const methods::VecF& s);

struct LinearProblem {
  std::string name;                     // "model.layers.3.self_attn.q_proj"
  const methods::MatF* W = nullptr;     // [m, n] float weight (rotated space when rotated), unsmoothed
  std::optional<Tensor> bias;           // [m]
  std::optional<methods::VecF> s;       // smoothing vector [n]
  const linalg::Mat* H = nullptr;       // [n, n] second moment of the input the weight sees (smoothed if s)
  const methods::Metric* metric = nullptr;  // low-rank metric in the same space (nullptr: identity)
  int rank = 0;
  const methods::MatF* X_sample = nullptr;  // raw input sample [N', n] for the SNR diagnostic (may be empty)
};

struct LinearSolution {
  std::shared_ptr<runtime::ActQuantLinear> linear;
  nlohmann::ordered_json diag;
  double lowrank_s = 0, residual_s = 0, diag_s = 0;
};

LinearSolution solve_w4a4_linear(const LinearProblem& p, const W4a4Config& c);

// Held-out style SNR of a layer on X [N, n]: 20 log10(||Y|| / ||Y_hat - Y||), Y = X W^T + b computed
// in float, Y_hat = layer(X). +inf for an exact layer.
double layer_snr_db(const model::Linear& layer, const methods::MatF& W, const std::optional<Tensor>& bias,
                    const methods::MatF& X);

}  // namespace hessq::pipeline
