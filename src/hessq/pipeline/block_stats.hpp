// Block calibration: run one float block over the stored hidden states of every window and collect
// what its passes and solvers need, per distinct linear input (model::InputKind):
//   st        H = X^T X / N, per-channel absmax and absmean, over the calibration windows (double)
//   heldout   every held-out input row X (diagnostics: held-out loss, OSAQ's output change)
//   half_a/b  the same statistics over the first / second half of the calibration windows (OSAQ)
//   err       G = E^T E / N with E = X - Q_x(X), the activation quantization residual (ARHQ's metric),
//             when the input space is the raw one
//   sample    a strided subsample of the calibration rows, at most `sample_tokens` of them (smoothing
//             search, layer SNR, ARHQ refinement, rank allocation)
//   all       every calibration row (--dump only: memory grows with tokens)
// Inputs are seen in the space the linear's weight multiplies: after a model::HadamardLinear's online
// rotation for down_proj (the hook observes x before the rotation). Memory is O(n^2) per input plus
// the capped sample and the held-out rows, independent of the number of calibration tokens.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

#include "hessq/calib/stats.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/model/block_forward.hpp"
#include "hessq/model/layout.hpp"
#include "hessq/pipeline/hidden_states.hpp"

namespace hessq::pipeline {

struct BlockCalib {
  std::array<calib::Stats, 4> st;
  std::array<methods::MatF, 4> heldout;
  std::array<std::optional<calib::Stats>, 4> half_a, half_b;
  std::array<calib::Stats, 4> err;  // n = 0 when not collected
  std::array<methods::MatF, 4> sample;
  std::array<methods::MatF, 4> all;
};

struct StatsOptions {
  bool halves = false;                     // half_a / half_b
  bool keep_all = false;                   // all
  const formats::QuantSpec* act = nullptr; // collect err with this activation quantizer
  int64_t sample_tokens = 0;               // 0: no sample
  // Which inputs (by model::input_index) to collect; the others keep empty statistics (N = 0), e.g.
  // HeRo-Q's pre-pass needs only the two normed streams (Attn, Mlp), not down_proj's hidden x hidden.
  std::array<bool, 4> inputs = {true, true, true, true};
  // X^T X counts each calibration window's first token (position 0) this many times (N, absmax,
  // absmean and the other statistics count it once). On a model without BOS that token is the
  // attention sink, 1 token per window: GPTQ's objective hardly sees it (docs/RESULTS.md "Why GPTQ
  // lost to RTN"). 1: plain H.
  double first_weight = 1;
};

// Windows [0, calib) of `stream` are calibration windows, [calib, stream.windows()) held-out ones.
// Runs `L` (block `layer`) on each from position 0; `forwards` counts the block forwards run.
BlockCalib collect_block_stats(const model::ModelConfig& cfg, const model::LayerWeights& L, int layer,
                               const HiddenStates& stream, int64_t calib, const StatsOptions& opt, int64_t& forwards);

// G per linear (by model::proj_index) in that linear's own input space X / c_p, for the linears with a
// scale vector c_p [n] (others: nullopt): E = X / c_p - Q_x(X / c_p) on the calibration windows. Runs
// `L` again (the float block as it was when the stream was recorded).
std::array<std::optional<calib::Stats>, 7> collect_scaled_residuals(
    const model::ModelConfig& cfg, const model::LayerWeights& L, int layer, const HiddenStates& stream, int64_t calib,
    const formats::QuantSpec& act, const std::array<std::optional<methods::VecF>, 7>& c, int64_t& forwards);

// Runs `L` on windows [0, windows) of `stream` and stores the outputs in place (the next block's inputs).
void advance_stream(const model::ModelConfig& cfg, const model::LayerWeights& L, int layer, HiddenStates& stream,
                    int64_t windows, int64_t& forwards);

// E = X - Q_x(X) for X [rows, n] (per-token quantizer), into `E` (resized).
void activation_residual(const formats::QuantSpec& act, const float* X, int64_t rows, int64_t n, std::vector<float>& E);

}  // namespace hessq::pipeline
