// Capture: the inputs of every block linear of a model, recorded through Transformer hooks while the
// float model runs on consecutive windows of a calibration token stream, and split by position into
// a calibration set and a disjoint held-out set (METHODS.md "Evaluation", layer SNR report).
//
// Linears that share an input are stored once: q/k/v read the attention input, gate/up the MLP
// input; o_proj and down_proj have their own. A synthetic source (Gaussian tokens with outlier
// channels) fills the same structure without running a model, for shape and scale studies.
#pragma once
#include <cstdint>
#include <vector>

#include <Eigen/Dense>

#include "hessq/model/layout.hpp"
#include "hessq/model/model.hpp"

namespace hessq::calib {

using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;  // [tokens, n]

// The four distinct linear inputs of a block (model/layout.hpp).
using model::InputKind;
using model::kAllInputs;
using model::input_name;
using model::input_of;
using model::input_features;
using model::input_index;

struct CapturedInput {
  int layer = 0;
  InputKind kind = InputKind::Attn;
  MatF X_calib;  // [calib_tokens, n] stream positions [0, calib_tokens)
  MatF X_eval;   // [eval_tokens, n]  stream positions [calib_tokens, calib_tokens + eval_tokens)
};

struct CaptureOptions {
  int window = 512;             // tokens per window, capped at the model's context
  int64_t calib_tokens = 2048;  // first tokens of the stream
  int64_t eval_tokens = 1024;   // the tokens right after them (held out, disjoint)
  std::vector<int> layers;      // layers to keep (empty: all)
  bool progress = true;
};

struct Capture {
  std::vector<CapturedInput> inputs;  // by layer, then kAllInputs order
  int window = 0;                     // tokens per window actually used
  int windows = 0;                    // forward calls made
  int64_t calib_tokens = 0, eval_tokens = 0;
  const CapturedInput& get(int layer, InputKind kind) const;  // throws if not captured
};

// Runs the float model on windows stream[0, w), stream[w, 2w), ... (the KV cache reset at each
// window, so every window is scored from its start, like perplexity) until calib_tokens +
// eval_tokens tokens have been seen. Throws if the stream is shorter than that (naming both numbers),
// if either count is < 1, or if an activation is NaN/Inf (naming layer, projection and window).
Capture capture_inputs(const model::Model& model, const std::vector<int>& stream, const CaptureOptions& opt);

// Synthetic activations, documented as such wherever they are reported: every token row is
// N(0, 1) i.i.d. per channel, except `outlier_channels` channels per input (chosen without
// replacement, seeded per (layer, input)) that are multiplied by `outlier_scale`. Deterministic for
// (cfg, options), independent of threads.
struct SyntheticOptions {
  int64_t calib_tokens = 2048;
  int64_t eval_tokens = 1024;
  int outlier_channels = 8;
  double outlier_scale = 20.0;
  uint64_t seed = 0;
  std::vector<int> layers;  // empty: all
};
Capture synthetic_inputs(const model::ModelConfig& cfg, const SyntheticOptions& opt);

}  // namespace hessq::calib
