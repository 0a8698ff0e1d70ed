#include "hessq/pipeline/block_stats.hpp"

#include <algorithm>

#include "hessq/core/error.hpp"
#include "hessq/model/act_quant_linear.hpp"
#include "hessq/model/hadamard_linear.hpp"

namespace hessq::pipeline {

using model::InputKind;

namespace {

using InputFn = std::function<void(int64_t window, InputKind kind, const float* X, int64_t tokens)>;

// Runs block `layer` on windows [0, windows) of `stream` and calls `fn` once per window and distinct
// input (q/k/v share one call, gate/up another), in the space the linear's weight multiplies.
void for_each_input(const model::ModelConfig& cfg, const model::LayerWeights& L, int layer,
                    const HiddenStates& stream, int64_t windows, const InputFn& fn, int64_t& forwards) {
  const auto* had = dynamic_cast<const model::HadamardLinear*>(&L.linear(model::Proj::Down));
  const int T = static_cast<int>(stream.window());
  std::vector<float> x(static_cast<size_t>(T) * cfg.dim), rotated;
  model::RopeTable rope(cfg);
  model::LayerCache cache;
  model::BlockScratch scratch;
  int64_t current = 0;
  const model::LinearHook hook = [&](const model::LinearId& id, const float* in, int n_tokens) {
    if (!model::is_input_representative(id.proj)) return;
    if (id.proj == model::Proj::Down && had != nullptr) {  // the inner linear sees x M
      rotated.resize(static_cast<size_t>(n_tokens) * had->in_features());
      had->rotate_input(in, n_tokens, rotated.data());
      in = rotated.data();
    }
    fn(current, model::input_of(id.proj), in, n_tokens);
  };
  for (current = 0; current < windows; ++current) {
    stream.read(current, x.data());
    cache.clear();
    model::block_forward(cfg, L, layer, x.data(), T, 0, cache, rope, scratch, hook);
    ++forwards;
  }
}

// Rows i (counted over all calls) with i % stride == 0, stride = ceil(total_rows / max_rows), so at
// most max_rows rows of a known total are kept, spread evenly.
class RowSampler {
 public:
  RowSampler(int64_t n, int64_t total_rows, int64_t max_rows) : n_(n), keep_(max_rows > 0) {
    if (keep_) stride_ = std::max<int64_t>(1, (total_rows + max_rows - 1) / max_rows);
  }
  void add(const float* X, int64_t rows) {
    for (int64_t t = 0; t < rows; ++t, ++seen_)
      if (keep_ && seen_ % stride_ == 0) rows_.insert(rows_.end(), X + t * n_, X + (t + 1) * n_);
  }
  methods::MatF take() {
    const int64_t kept = n_ > 0 ? static_cast<int64_t>(rows_.size()) / n_ : 0;
    methods::MatF X = Eigen::Map<const methods::MatF>(rows_.data(), kept, n_);
    rows_ = {};
    return X;
  }

 private:
  int64_t n_ = 0, stride_ = 1, seen_ = 0;
  bool keep_ = false;
  std::vector<float> rows_;
};

}  // namespace

void activation_residual(const formats::QuantSpec& act, const float* X, int64_t rows, int64_t n,
                         std::vector<float>& E) {
  E.resize(static_cast<size_t>(rows * n));
  model::quantize_activations(act, X, rows, n, E.data());
  for (int64_t i = 0; i < rows * n; ++i) E[i] = X[i] - E[i];
}

BlockCalib collect_block_stats(const model::ModelConfig& cfg, const model::LayerWeights& L, int layer,
                               const HiddenStates& stream, int64_t calib, const StatsOptions& opt, int64_t& forwards) {
  HESSQ_CHECK(calib > 0 && calib <= stream.windows(), "block {}: {} calibration windows of {}", layer, calib,
              stream.windows());
  BlockCalib bc;
  std::vector<RowSampler> samplers;
  std::array<std::vector<float>, 4> heldout, all;
  const int64_t half = calib / 2, calib_rows = calib * stream.window();
  for (InputKind k : model::kAllInputs) {
    const int i = model::input_index(k), n = opt.inputs[model::input_index(k)] ? model::input_features(cfg, k) : 0;
    bc.st[i] = calib::Stats(n);
    if (opt.halves) bc.half_a[i] = bc.half_b[i] = calib::Stats(n);
    if (opt.act) bc.err[i] = calib::Stats(n);
    samplers.emplace_back(n, calib_rows, opt.sample_tokens);
  }
  std::vector<float> E;
  for_each_input(
      cfg, L, layer, stream, stream.windows(),
      [&](int64_t w, InputKind k, const float* X, int64_t T) {
        const int i = model::input_index(k);
        if (!opt.inputs[i]) return;
        const int64_t n = bc.st[i].n;
        if (w >= calib) {
          heldout[i].insert(heldout[i].end(), X, X + T * n);
          return;
        }
        if (opt.first_weight != 1 && T > 0) {
          bc.st[i].add(X, 1, n, opt.first_weight);
          bc.st[i].add(X + n, T - 1, n);
        } else {
          bc.st[i].add(X, T, n);
        }
        if (opt.halves) (w < half ? *bc.half_a[i] : *bc.half_b[i]).add(X, T, n);
        if (opt.keep_all) all[i].insert(all[i].end(), X, X + T * n);
        samplers[i].add(X, T);
        if (!opt.act) return;
        activation_residual(*opt.act, X, T, n, E);
        bc.err[i].add(E.data(), T, n);
      },
      forwards);
  for (int i = 0; i < 4; ++i) {
    const int64_t n = bc.st[i].n;
    if (n == 0) continue;  // not collected (opt.inputs)
    bc.sample[i] = samplers[i].take();
    bc.heldout[i] = Eigen::Map<const methods::MatF>(heldout[i].data(), static_cast<int64_t>(heldout[i].size()) / n, n);
    heldout[i] = {};
    if (opt.keep_all) bc.all[i] = Eigen::Map<const methods::MatF>(all[i].data(), static_cast<int64_t>(all[i].size()) / n, n);
    if (opt.halves && (bc.half_a[i]->N == 0 || bc.half_b[i]->N == 0)) bc.half_a[i].reset(), bc.half_b[i].reset();
  }
  return bc;
}

std::array<std::optional<calib::Stats>, 7> collect_scaled_residuals(
    const model::ModelConfig& cfg, const model::LayerWeights& L, int layer, const HiddenStates& stream, int64_t calib,
    const formats::QuantSpec& act, const std::array<std::optional<methods::VecF>, 7>& c, int64_t& forwards) {
  std::array<std::optional<calib::Stats>, 7> out;
  bool any = false;
  for (model::Proj p : model::kAllProjs)
    if (c[model::proj_index(p)]) out[model::proj_index(p)] = calib::Stats(c[model::proj_index(p)]->size()), any = true;
  if (!any) return out;
  std::vector<float> Xs, E;
  for_each_input(
      cfg, L, layer, stream, calib,
      [&](int64_t, InputKind k, const float* X, int64_t T) {
        for (model::Proj p : model::projs_reading(k)) {
          const int pi = model::proj_index(p);
          if (!c[pi]) continue;
          const int64_t n = c[pi]->size();
          Xs.resize(static_cast<size_t>(T * n));
          for (int64_t t = 0; t < T; ++t)
            for (int64_t j = 0; j < n; ++j) Xs[t * n + j] = X[t * n + j] / (*c[pi])[j];
          activation_residual(act, Xs.data(), T, n, E);
          out[pi]->add(E.data(), T, n);
        }
      },
      forwards);
  return out;
}

void advance_stream(const model::ModelConfig& cfg, const model::LayerWeights& L, int layer, HiddenStates& stream,
                    int64_t windows, int64_t& forwards) {
  const int T = static_cast<int>(stream.window());
  std::vector<float> x(static_cast<size_t>(T) * cfg.dim);
  model::RopeTable rope(cfg);
  model::LayerCache cache;
  model::BlockScratch scratch;
  for (int64_t w = 0; w < windows; ++w) {
    stream.read(w, x.data());
    cache.clear();
    model::block_forward(cfg, L, layer, x.data(), T, 0, cache, rope, scratch, {});
    stream.write(w, x.data());
    ++forwards;
  }
}

}  // namespace hessq::pipeline
