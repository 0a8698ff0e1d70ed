#include "hessq/pipeline/w4a4_calib.hpp"

#include <algorithm>

#include "hessq/calib/sequential.hpp"
#include "hessq/core/error.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/model/transformer.hpp"
#include "hessq/pipeline/w4a4_shapes.hpp"
#include "hessq/runtime/act_quant_linear.hpp"

namespace hessq::pipeline {

using calib::InputKind;

// The linear whose hook call stands for its input group.
static bool is_representative(model::Proj p) {
  return p == model::Proj::Q || p == model::Proj::O || p == model::Proj::Gate || p == model::Proj::Down;
}

void for_each_block_input(const model::Model& m, int layer, const std::vector<std::vector<int>>& windows,
                          const BlockInputFn& fn) {
  const model::ModelConfig& c = m.cfg;
  HESSQ_CHECK(layer >= 0 && layer < c.n_layers, "block {} out of range [0, {})", layer, c.n_layers);
  HESSQ_CHECK(!windows.empty(), "no calibration windows");
  const auto* had = dynamic_cast<const model::HadamardLinear*>(&m.layers[layer].linear(model::Proj::Down));
  size_t longest = 0;
  for (const auto& w : windows) longest = std::max(longest, w.size());
  model::Transformer tr(m, static_cast<int>(longest));
  tr.set_stop_after(layer);
  std::vector<float> rotated;
  tr.set_hook([&](const model::LinearId& id, const float* x, int n_tokens) {
    if (id.layer != layer || !is_representative(id.proj)) return;
    const InputKind k = calib::input_of(id.proj);
    if (id.proj == model::Proj::Down && had != nullptr) {  // the inner linear sees x M
      rotated.resize(static_cast<size_t>(n_tokens) * had->in_features());
      had->rotate_input(x, n_tokens, rotated.data());
      x = rotated.data();
    }
    fn(k, x, n_tokens);
  });
  for (const auto& w : windows) {
    tr.reset();
    tr.forward(w.data(), static_cast<int>(w.size()), false);
  }
}

RowSampler::RowSampler(int64_t n, int64_t total_rows, int64_t max_rows) : n_(n), keep_(max_rows > 0) {
  if (keep_) stride_ = std::max<int64_t>(1, (total_rows + max_rows - 1) / max_rows);
}

void RowSampler::add(const float* X, int64_t rows) {
  for (int64_t t = 0; t < rows; ++t, ++seen_)
    if (keep_ && seen_ % stride_ == 0) rows_.insert(rows_.end(), X + t * n_, X + (t + 1) * n_);
}

methods::MatF RowSampler::take() {
  const int64_t kept = n_ > 0 ? static_cast<int64_t>(rows_.size()) / n_ : 0;
  methods::MatF X = Eigen::Map<const methods::MatF>(rows_.data(), kept, n_);
  rows_ = {};
  return X;
}

void activation_residual(const formats::QuantSpec& x_spec, const float* X, int64_t rows, int64_t n,
                         std::vector<float>& E) {
  E.resize(static_cast<size_t>(rows * n));
  runtime::quantize_activations(x_spec, X, rows, n, E.data());
  for (int64_t i = 0; i < rows * n; ++i) E[i] = X[i] - E[i];
}

static int64_t total_tokens(const std::vector<std::vector<int>>& windows) {
  int64_t t = 0;
  for (const auto& w : windows) t += static_cast<int64_t>(w.size());
  return t;
}

W4a4BlockStats collect_w4a4_block(const model::Model& m, int layer, const std::vector<std::vector<int>>& windows,
                                  const formats::QuantSpec& x_spec, bool residual, int64_t sample_tokens) {
  W4a4BlockStats bs;
  std::vector<RowSampler> samplers;
  for (InputKind k : calib::kAllInputs) {
    const int i = calib::input_index(k), n = calib::input_features(m.cfg, k);
    bs.st[i] = calib::Stats(n);
    if (residual) bs.err[i] = calib::Stats(n);
    samplers.emplace_back(n, total_tokens(windows), sample_tokens);
  }
  std::vector<float> E;
  for_each_block_input(m, layer, windows, [&](InputKind k, const float* X, int64_t T) {
    const int i = calib::input_index(k);
    const int64_t n = bs.st[i].n;
    bs.st[i].add(X, T, n);
    samplers[i].add(X, T);
    if (!residual) return;
    activation_residual(x_spec, X, T, n, E);
    bs.err[i].add(E.data(), T, n);
  });
  for (int i = 0; i < 4; ++i) bs.X_sample[i] = samplers[i].take();
  return bs;
}

std::array<std::optional<calib::Stats>, 7> collect_smoothed_residuals(
    const model::Model& m, int layer, const std::vector<std::vector<int>>& windows, const formats::QuantSpec& x_spec,
    const std::array<std::optional<methods::VecF>, 7>& s) {
  std::array<std::optional<calib::Stats>, 7> out;
  bool any = false;
  for (model::Proj p : model::kAllProjs) {
    const int pi = static_cast<int>(p);
    if (!s[pi]) continue;
    out[pi] = calib::Stats(s[pi]->size());
    any = true;
  }
  if (!any) return out;
  std::vector<float> Xs, E;
  for_each_block_input(m, layer, windows, [&](InputKind k, const float* X, int64_t T) {
    for (model::Proj p : projs_reading(k)) {
      const int pi = static_cast<int>(p);
      if (!s[pi]) continue;
      const int64_t n = s[pi]->size();
      Xs.resize(static_cast<size_t>(T * n));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < n; ++j) Xs[t * n + j] = X[t * n + j] / (*s[pi])[j];
      activation_residual(x_spec, Xs.data(), T, n, E);
      out[pi]->add(E.data(), T, n);
    }
  });
  return out;
}

}  // namespace hessq::pipeline
