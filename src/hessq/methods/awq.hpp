// AWQ (Lin, Tang, Tang, Yang, Chen, Wang, Xiao, Dang, Gan, Han 2023, "AWQ: Activation-aware Weight
// Quantization for LLM Compression and Acceleration", arXiv 2306.00978), METHODS.md "Baselines".
//
// For a set of linears sharing one input X (q/k/v, or gate/up), a per-input-channel scale
//   s_j = absmean_j^alpha,  alpha on the grid {0, 1/grid, ..., (grid-1)/grid}
// is chosen to minimize the output error of the quantized, scaled layers
//   loss(alpha) = sum_W ||Q_w(W diag s) (X / s)^T - W X^T||_F^2 / N = sum_W tr(dW H dW^T),
//   dW = Q_w(W diag s) diag(1/s) - W,
// so only H = X^T X / N and absmean are needed (calib::Stats). The caller multiplies the linears by
// s (apply_awq) and folds 1/s into the producer (RMSNorm weight, v_proj rows, up_proj rows), so the
// float model is unchanged.
//
// [choice]s:
// - normalization as AutoAWQ: s <- s / sqrt(max(s) min(s)); absmean is floored at
//   kAbsmeanFloor * max(absmean) before the power (AutoAWQ clamps s at an absolute 1e-4 instead;
//   a relative floor keeps the result invariant to the scale of X and handles dead channels).
// - ties keep the smaller alpha (the grid is scanned upwards, strict improvement only), so
//   alpha = 0 (identity, plain RTN) wins unless scaling helps.
// - the grid losses use a float GEMM for dW H with double accumulation (20 x |Ws| products of
//   [m, n] x [n, n] per input set); the reported losses are those same numbers.
// - clip search (opt.clip_search, solve_awq): as AutoAWQ's auto_clip, after scaling, for each
//   output row and group independently choose the clip ratio in {1, 0.95, ..., 0.5} minimizing the
//   group's own output error d^T H'_gg d (H' = the scaled H, cross-group terms ignored as in
//   AutoAWQ); the result carries int_params so pack_int stores it. INT per-channel / per-group only.
#pragma once
#include <vector>

#include "hessq/calib/stats.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::methods {

constexpr double kAbsmeanFloor = 1e-4;  // relative to max absmean, see [choice]s

struct AwqOptions {
  int grid = 20;             // alphas k / grid, k = 0 .. grid-1
  bool clip_search = false;  // solve_awq: per (row, group) clip-ratio search on the output error
  int clip_steps = 10;       // ratios 1 - k * clip_max_shrink / clip_steps, k = 0 .. clip_steps
  double clip_max_shrink = 0.5;
};

struct AwqResult {
  linalg::Vec s;              // [n] chosen scales (normalized)
  double alpha = 0;           // chosen exponent
  double loss = 0;            // loss(alpha) summed over the Ws
  double loss_identity = 0;   // loss(0): plain RTN of the unscaled Ws
  std::vector<double> losses;  // loss at each grid point, alpha = k / grid
};

// Ws: the linears sharing the input described by st, each [m_i, n] with n = st.n; specs: the weight
// format of each (one spec: of all).
AwqResult awq_search(const std::vector<const MatF*>& Ws, const calib::Stats& st,
                     const std::vector<formats::QuantSpec>& specs, const AwqOptions& opt = {});

// The scales for one alpha (normalized as above); absmean: [n].
linalg::Vec awq_scales(const linalg::Vec& absmean, double alpha);
// W diag(s): the weight the caller stores (W: [m, n], s: [n]).
MatF apply_awq(const MatF& W, const linalg::Vec& s);
// diag(1/s) H diag(1/s): the second moment of the scaled input X / s.
linalg::Mat awq_scale_hessian(const linalg::Mat& H, const linalg::Vec& s);

// Quantizes W diag(s) (RTN, or the per-group clip search when opt.clip_search). W_q is in the
// scaled space (what is stored); proxy_loss = tr(dW' H' dW'^T) with dW' = W_q - W diag(s) and
// H' = awq_scale_hessian(H, s), i.e. the output error of the folded model.
QuantizedWeight solve_awq(const MatF& W, const linalg::Mat& H, const linalg::Vec& s, const formats::QuantSpec& spec,
                          const AwqOptions& opt = {});

}  // namespace hessq::methods
