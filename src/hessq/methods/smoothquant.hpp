// SmoothQuant (Xiao, Lin, Seznec, Wu, Demouth, Han 2022, arXiv:2211.10438): migrate activation
// outliers into the weight with a per-input-channel scale,
//   s_j = absmax_j^alpha / max_i |W_ij|^(1 - alpha),   X -> X diag(s)^-1,   W -> W diag(s),
// so X W^T is unchanged in exact arithmetic and only the quantized layer changes.
// [choice] alpha: searched on the grid {0, 0.05, ..., 1} (SmoothOptions::alpha_grid), minimizing the
//   quantized layer's output MSE ||Q_x(X/s) Q_w(W diag(s))^T - X W^T||^2 on calibration tokens
//   (at most SmoothOptions::max_search_tokens of them, evenly strided).
// [choice] floors: absmax_j and max_i |W_ij| are raised to `min_stat` (1e-5, as the reference code)
//   and s_j to `min_scale` (1e-5), so dead channels get a finite scale.
// [choice] at layer level each linear gets its own s (the folded deployment would share one s across
//   q/k/v and across gate/up); the SNR study reports this per-linear form.
#pragma once
#include <vector>

#include "hessq/methods/layer_quant.hpp"

namespace hessq::methods {

struct SmoothOptions {
  std::vector<double> alpha_grid = default_alpha_grid();
  int64_t max_search_tokens = 1024;  // 0: all calibration tokens
  double min_stat = 1e-5;
  double min_scale = 1e-5;
  static std::vector<double> default_alpha_grid();  // 0, 0.05, ..., 1 (21 points)
};

// s [n] from the per-channel activation absmax [n] and W [m, n].
VecF smooth_scales(const MatF& W, const VecF& absmax, double alpha, const SmoothOptions& opt = {});
MatF smooth_weight(const MatF& W, const VecF& s);  // W diag(s)
MatF smooth_input(const MatF& X, const VecF& s);   // X diag(s)^-1
VecF column_absmax(const MatF& X);                 // absmax_j = max_t |X_tj|

struct SmoothResult {
  double alpha = 0;
  VecF s;                   // [n]
  std::vector<double> mse;  // per alpha_grid point: output MSE on the search tokens
};

// Step 1: absmax from all calibration tokens; step 2: for each alpha, the quantized layer's output
// MSE on the search tokens; step 3: the best alpha (the first one on ties) and its s.
SmoothResult search_smoothing(const MatF& W, const MatF& X_calib, const LayerFormat& f, const SmoothOptions& opt = {});

}  // namespace hessq::methods
