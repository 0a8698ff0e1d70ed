#include "hessq/core/random.hpp"
#include "hessq/calib/capture.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/model/transformer.hpp"

namespace hessq::calib {

const CapturedInput& Capture::get(int layer, InputKind kind) const {
  for (const CapturedInput& c : inputs)
    if (c.layer == layer && c.kind == kind) return c;
  HESSQ_FAIL("no captured {} activations for layer {}", input_name(kind), layer);
}

static std::vector<int> chosen_layers(const std::vector<int>& layers, int n_layers) {
  std::vector<int> out = layers;
  if (out.empty())
    for (int l = 0; l < n_layers; ++l) out.push_back(l);
  for (int l : out) HESSQ_CHECK(l >= 0 && l < n_layers, "layer {} is out of range (the model has {} layers)", l, n_layers);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

static Capture empty_capture(const model::ModelConfig& cfg, const std::vector<int>& layers, int64_t calib, int64_t eval) {
  HESSQ_CHECK(calib >= 1 && eval >= 1, "need at least one calibration and one held-out token (got {} and {})", calib,
              eval);
  Capture cap;
  cap.calib_tokens = calib;
  cap.eval_tokens = eval;
  for (int l : layers)
    for (InputKind k : kAllInputs) {
      CapturedInput c{l, k, MatF(calib, input_features(cfg, k)), MatF(eval, input_features(cfg, k))};
      cap.inputs.push_back(std::move(c));
    }
  return cap;
}

Capture capture_inputs(const model::Model& model, const std::vector<int>& stream, const CaptureOptions& opt) {
  const model::ModelConfig& cfg = model.cfg;
  const int64_t need = opt.calib_tokens + opt.eval_tokens;
  HESSQ_CHECK(static_cast<int64_t>(stream.size()) >= need,
              "the calibration text gives {} tokens, but {} calibration + {} held-out = {} are needed; "
              "use a longer text or fewer --calib-tokens/--eval-tokens",
              stream.size(), opt.calib_tokens, opt.eval_tokens, need);
  const std::vector<int> layers = chosen_layers(opt.layers, cfg.n_layers);
  Capture cap = empty_capture(cfg, layers, opt.calib_tokens, opt.eval_tokens);
  cap.window = std::min(opt.window > 0 ? opt.window : cfg.max_seq_len, cfg.max_seq_len);
  std::map<std::pair<int, int>, CapturedInput*> slot;  // (layer, kind) -> storage
  for (CapturedInput& c : cap.inputs) slot[{c.layer, static_cast<int>(c.kind)}] = &c;

  model::Transformer tf(model, cap.window);
  tf.set_stop_after(layers.back());  // later blocks cannot change the captured inputs
  int64_t start = 0;  // stream position of the current window's first token
  tf.set_hook([&](const model::LinearId& id, const float* x, int n) {
    if (id.layer < 0 || !model::is_input_representative(id.proj)) return;
    auto it = slot.find({id.layer, static_cast<int>(input_of(id.proj))});
    if (it == slot.end()) return;
    CapturedInput& c = *it->second;
    const int64_t cols = c.X_calib.cols();
    for (int t = 0; t < n; ++t) {
      const int64_t pos = start + t;
      const float* row = x + static_cast<size_t>(t) * cols;
      for (int64_t j = 0; j < cols; ++j)
        HESSQ_CHECK(std::isfinite(row[j]), "layer {} {}: activation NaN/Inf at stream position {} (window {}), channel {}",
                    id.layer, model::proj_name(id.proj), pos, cap.windows, j);
      if (pos < opt.calib_tokens)
        std::copy(row, row + cols, c.X_calib.row(pos).data());
      else
        std::copy(row, row + cols, c.X_eval.row(pos - opt.calib_tokens).data());
    }
  });
  const int total_windows = static_cast<int>((need + cap.window - 1) / cap.window);
  std::optional<Progress> bar;
  if (opt.progress) bar.emplace("capturing activations", total_windows);
  for (; start < need; start += cap.window) {
    const int n = static_cast<int>(std::min<int64_t>(cap.window, need - start));  // causal: cutting the tail is exact
    tf.reset();
    tf.forward(stream.data() + start, n, false);
    ++cap.windows;
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  spdlog::info("captured {} calibration + {} held-out tokens from {} window(s) of {} ({} layers)", opt.calib_tokens,
               opt.eval_tokens, cap.windows, cap.window, layers.size());
  return cap;
}

static void fill_gaussian(MatF& X, uint64_t& s) {
  float* p = X.data();
  for (Eigen::Index i = 0; i < X.size(); ++i) {  // Box-Muller, one value per pair of draws
    const double u1 = uniform01(s) + 0x1.0p-54, u2 = uniform01(s);
    p[i] = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
  }
}

Capture synthetic_inputs(const model::ModelConfig& cfg, const SyntheticOptions& opt) {
  HESSQ_CHECK(opt.outlier_channels >= 0, "--outlier-channels must be >= 0, got {}", opt.outlier_channels);
  HESSQ_CHECK(opt.outlier_scale > 0 && std::isfinite(opt.outlier_scale), "--outlier-scale must be > 0, got {}",
              opt.outlier_scale);
  const std::vector<int> layers = chosen_layers(opt.layers, cfg.n_layers);
  Capture cap = empty_capture(cfg, layers, opt.calib_tokens, opt.eval_tokens);
  for (CapturedInput& c : cap.inputs) {
    const int64_t n = c.X_calib.cols();
    HESSQ_CHECK(opt.outlier_channels <= n, "--outlier-channels {} exceeds the {} features of {}", opt.outlier_channels,
                n, input_name(c.kind));
    uint64_t s = opt.seed;
    s = splitmix64(s) ^ (static_cast<uint64_t>(c.layer) << 8 | static_cast<uint64_t>(c.kind));
    // Outlier channels: a seeded partial Fisher-Yates shuffle.
    std::vector<int64_t> idx(n);
    for (int64_t j = 0; j < n; ++j) idx[j] = j;
    for (int k = 0; k < opt.outlier_channels; ++k) std::swap(idx[k], idx[k + splitmix64(s) % (n - k)]);
    fill_gaussian(c.X_calib, s);
    fill_gaussian(c.X_eval, s);
    for (int k = 0; k < opt.outlier_channels; ++k) {
      c.X_calib.col(idx[k]) *= static_cast<float>(opt.outlier_scale);
      c.X_eval.col(idx[k]) *= static_cast<float>(opt.outlier_scale);
    }
  }
  cap.window = 0;
  return cap;
}

}  // namespace hessq::calib
