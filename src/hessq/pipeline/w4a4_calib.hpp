// Calibration statistics for W4A4 (METHODS.md "ARHQ" step 1): block `layer`'s linear inputs, from a
// model whose blocks < layer may already be quantized (their activation quantizers run), with
//   H = X^T X / N, absmax, absmean    over every calibration token (calib::Stats, double)
//   G = E^T E / N, E = X - Q_x(X)     with the target activation quantizer, per token, as the
//                                     model will run it (runtime::quantize_activations)
//   a strided token subsample          for the smoothing alpha search and the SNR diagnostic; its size
//                                     is capped (`sample_tokens`), so memory stays O(n^2 + cap * n)
//                                     whatever the number of calibration tokens.
// Inputs are seen in the space the linear's weight multiplies: after a model::HadamardLinear's online
// rotation for down_proj (the hook itself observes x before the rotation).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "hessq/calib/capture.hpp"
#include "hessq/calib/stats.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/model/model.hpp"

namespace hessq::pipeline {

using BlockInputFn = std::function<void(calib::InputKind kind, const float* X, int64_t tokens)>;

// Runs `m` on each window from position 0, blocks 0..layer only, and calls `fn` once per window and
// distinct input of block `layer` (q/k/v share one call, gate/up another).
void for_each_block_input(const model::Model& m, int layer, const std::vector<std::vector<int>>& windows,
                          const BlockInputFn& fn);

// Rows i (counted over all calls) with i % stride == 0, stride = ceil(total_rows / max_rows), so at
// most max_rows rows of a known total are kept, spread evenly. max_rows <= 0 keeps nothing.
class RowSampler {
 public:
  RowSampler(int64_t n, int64_t total_rows, int64_t max_rows);
  void add(const float* X, int64_t rows);
  methods::MatF take();  // [kept, n]

 private:
  int64_t n_ = 0, stride_ = 1, seen_ = 0;
  bool keep_ = false;
  std::vector<float> rows_;
};

struct W4a4BlockStats {
  std::array<calib::Stats, 4> st;         // X, by calib::input_index
  std::array<calib::Stats, 4> err;        // E = X - Q_x(X); G = err[i].H(); n = 0 when not collected
  std::array<methods::MatF, 4> X_sample;  // strided subsample of X, at most sample_tokens rows
};

W4a4BlockStats collect_w4a4_block(const model::Model& m, int layer, const std::vector<std::vector<int>>& windows,
                                  const formats::QuantSpec& x_spec, bool residual, int64_t sample_tokens);

// G of each linear (by model::Proj index) in its own smoothed space: E = X/s - Q_x(X/s), for the
// linears with a smoothing vector s [n] (others: nullopt).
std::array<std::optional<calib::Stats>, 7> collect_smoothed_residuals(
    const model::Model& m, int layer, const std::vector<std::vector<int>>& windows, const formats::QuantSpec& x_spec,
    const std::array<std::optional<methods::VecF>, 7>& s);

// E = X - Q_x(X) for X [rows, n] (per-token quantizer), into `E` (resized).
void activation_residual(const formats::QuantSpec& x_spec, const float* X, int64_t rows, int64_t n,
                         std::vector<float>& E);

}  // namespace hessq::pipeline
