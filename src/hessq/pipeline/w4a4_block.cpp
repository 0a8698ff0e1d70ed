#include "hessq/core/timer.hpp"
#include "hessq/pipeline/w4a4_block.hpp"

#include <chrono>

#include "hessq/calib/sequential.hpp"
#include "hessq/core/error.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/methods/smoothquant.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/pipeline/w4a4_calib.hpp"
#include "hessq/pipeline/w4a4_linear.hpp"
#include "hessq/pipeline/w4a4_shapes.hpp"

namespace hessq::pipeline {

using calib::InputKind;
using methods::MatF;

namespace {
int pidx(model::Proj p) { return static_cast<int>(p); }
}  // namespace

const model::DenseLinear& float_linear(const model::Linear& lin, const std::string& name) {
  const model::Linear* l = &lin;
  if (auto* h = dynamic_cast<const model::HadamardLinear*>(l)) l = h->inner().get();
  auto* d = dynamic_cast<const model::DenseLinear*>(l);
  HESSQ_CHECK(d != nullptr, "{}: expected a float linear (is the block already quantized?)", name);
  return *d;
}

BlockPrep prepare_w4a4_block(const model::Model& src, const model::Model& target, int layer,
                             const calib::Windows& windows, const W4a4Config& c, const std::array<int, 7>& ranks) {
  BlockPrep bp;
  for (model::Proj p : model::kAllProjs) {
    const model::DenseLinear& d = float_linear(target.layers[layer].linear(p), io::linear_tensor_prefix(layer, p));
    bp.W[pidx(p)] = Eigen::Map<const MatF>(d.weight().ptr(), d.out_features(), d.in_features());
    bp.bias[pidx(p)] = d.bias();
  }
  const bool arhq = c.lowrank == LowRankMethod::Arhq || c.lowrank == LowRankMethod::ArhqH;
  bool any_metric = false;
  for (model::Proj p : model::kAllProjs) any_metric = any_metric || (arhq && ranks[pidx(p)] > 0);

  // Pass 1: H, absmax, the token sample, and G in the raw space when nothing is smoothed.
  auto t0 = Clock::now();
  const int64_t sample = std::max(c.diag_tokens, c.smooth ? c.smooth_tokens : int64_t{0});
  W4a4BlockStats bs = collect_w4a4_block(src, layer, windows.calib, c.format.x, any_metric && !c.smooth, sample);
  bp.calib_s += seconds_since(t0);
  for (int i = 0; i < 4; ++i) bp.X_sample[i] = std::move(bs.X_sample[i]);

  // Smoothing: one alpha search per linear, on that linear's weight.
  if (c.smooth) {
    t0 = Clock::now();
    for (model::Proj p : model::kAllProjs) {
      const int i = calib::input_index(calib::input_of(p));
      const MatF X = methods::strided_rows(bp.X_sample[i], c.smooth_tokens);  // <= smooth_tokens rows
      const SmoothChoice sc = search_smoothing_w4a4(bp.W[pidx(p)], bs.st[i].absmax, X, c);
      bp.s[pidx(p)] = sc.s;
      bp.diag[pidx(p)]["smooth"] = {{"alpha", sc.alpha},
                                    {"s_min", sc.s.minCoeff()},
                                    {"s_max", sc.s.maxCoeff()},
                                    {"mse", sc.mse},
                                    {"search_tokens", X.rows()}};
    }
    bp.smooth_s += seconds_since(t0);
  }

  // H in each linear's space (shared by the linears of one input when unsmoothed). The n x n sums are
  // released as soon as they are used: down_proj's are the largest matrices of the whole pass.
  for (InputKind k : calib::kAllInputs) {
    const int i = calib::input_index(k);
    auto H = std::make_shared<const linalg::Mat>(bs.st[i].H());
    bs.st[i].XtX = linalg::Mat();
    for (model::Proj p : projs_reading(k))
      bp.H[pidx(p)] = bp.s[pidx(p)] ? std::make_shared<const linalg::Mat>(smooth_hessian(*H, *bp.s[pidx(p)])) : H;
  }
  if (!any_metric) return bp;

  // G: raw (from pass 1) or, with smoothing, pass 2 in each smoothed space. Then the metric.
  std::array<std::optional<calib::Stats>, 7> Gs;
  if (c.smooth) {
    t0 = Clock::now();
    std::array<std::optional<methods::VecF>, 7> s_needed;
    for (model::Proj p : model::kAllProjs)
      if (ranks[pidx(p)] > 0) s_needed[pidx(p)] = bp.s[pidx(p)];
    Gs = collect_smoothed_residuals(src, layer, windows.calib, c.format.x, s_needed);
    bp.calib_s += seconds_since(t0);
  }
  t0 = Clock::now();
  for (InputKind k : calib::kAllInputs) {
    std::shared_ptr<const methods::Metric> shared;  // raw space: one per input
    for (model::Proj p : projs_reading(k)) {
      if (ranks[pidx(p)] == 0) continue;
      if (!c.smooth && shared) {
        bp.metric[pidx(p)] = shared;
        continue;
      }
      calib::Stats& E = c.smooth ? *Gs[pidx(p)] : bs.err[calib::input_index(k)];
      linalg::Mat G = E.H();
      E.XtX = linalg::Mat();
      if (c.lowrank == LowRankMethod::ArhqH) G = methods::arhq_h_metric(*bp.H[pidx(p)], G, c.arhq_h_mult);
      auto metric = std::make_shared<const methods::Metric>(with_context(
          io::linear_tensor_prefix(layer, p), [&] { return methods::make_metric(G, c.eps, c.eps_relative); }));
      bp.metric[pidx(p)] = metric;
      if (!c.smooth) shared = metric;
    }
  }
  bp.metric_s += seconds_since(t0);
  return bp;
}

}  // namespace hessq::pipeline
