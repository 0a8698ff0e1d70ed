#include "hessq/pipeline/block_passes.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/core/timer.hpp"
#include "hessq/methods/awq.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/osaq.hpp"
#include "hessq/methods/smoothquant.hpp"
#include "hessq/model/act_quant_linear.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/pipeline/matrix_util.hpp"

namespace hessq::pipeline {

using json = nlohmann::ordered_json;
using methods::MatF;
using methods::VecF;
using model::InputKind;

namespace {

std::string blk_tag(int layer, int n_layers) { return fmt::format("[blk {}/{}]", layer + 1, n_layers); }

Tensor vec_tensor_div(const Tensor& v, const linalg::Vec& s) {  // v / s, a new tensor
  Tensor out = v.clone();
  for (int64_t j = 0; j < out.numel(); ++j) out.ptr()[j] = static_cast<float>(out.ptr()[j] / s[j]);
  return out;
}

void scale_rows_by(MatF& X, const linalg::Vec& s) {  // X <- X diag(1/s)
  if (X.size() == 0) return;
  X = X * s.cwiseInverse().cast<float>().asDiagonal();
}

// The statistics and kept rows of input k rescaled to X / s.
void scale_input(BlockCalib& bc, InputKind k, const linalg::Vec& s) {
  const int i = model::input_index(k);
  scale_stats(bc.st[i], s);
  for (auto* opt : {&bc.half_a[i], &bc.half_b[i]})
    if (*opt) scale_stats(**opt, s);
  for (MatF* X : {&bc.heldout[i], &bc.sample[i], &bc.all[i]}) scale_rows_by(*X, s);
}

// ||X dW^T|| / ||X W^T|| on the rows X [N, n] (OSAQ's output change on held-out tokens).
double ratio_on_rows(const MatF& W, const MatF& dW, const MatF& X) {
  const double base = methods::matmul_nt(X, W).cast<double>().squaredNorm();
  HESSQ_CHECK(base > 0, "output change ratio: the layer output X W^T is zero on the evaluation tokens");
  return std::sqrt(methods::matmul_nt(X, dW).cast<double>().squaredNorm() / base);
}

// ---- OSAQ -------------------------------------------------------------------------------------------

void run_osaq(BlockWork& w, const Pass& pass, const BlockCalib& bc, int layer, int n_layers) {
  for (InputKind k : model::kAllInputs) {
    const int i = model::input_index(k);
    const linalg::Mat H = bc.st[i].H();
    const bool held = bc.heldout[i].rows() > 0;
    json angles = nullptr;
    if (bc.half_a[i] && bc.half_b[i]) {
      const std::vector<double> a = methods::null_space_angles(bc.half_a[i]->H(), bc.half_b[i]->H(), pass.osaq.gamma,
                                                               pass.osaq.k_rule);
      double mx = 0, sum = 0;
      for (double x : a) mx = std::max(mx, x), sum += x;
      const double deg = 180.0 / std::numbers::pi;
      angles = {{"count", a.size()}, {"max_deg", mx * deg}, {"mean_deg", a.empty() ? 0.0 : sum / a.size() * deg}};
    }
    for (model::Proj p : model::projs_reading(k)) {
      const int pi = model::proj_index(p);
      const auto t0 = Clock::now();
      MatF& W = w.W[pi];
      const methods::OsaqResult r = methods::solve_osaq(W, H, pass.osaq);
      const double ratio_calib = methods::output_change_ratio(W, r.dW, H);
      const double ratio = held ? ratio_on_rows(W, r.dW, bc.heldout[i]) : ratio_calib;
      // [choice] guard (max_ratio > 0, default 0.01; passes.hpp): a change that moves the calibration
      // output by more than max_ratio is not an outlier absorption in a null space; keep W.
      const bool rejected = methods::osaq_guard_rejects(ratio_calib, pass.osaq_max_ratio);
      if (!rejected) {
        if (!w.W_ref[pi]) w.W_ref[pi] = W;  // the float layer, against which OSAQ's change counts as error
        W += r.dW;
      }
      // Applied values first; a rejected change leaves W (and its max |w|) as it was.
      w.diag[pi]["osaq"] = {{"K", r.K},
                            {"rows_changed", rejected ? int64_t{0} : r.rows_changed},
                            {"n", W.cols()},
                            {"rejected", rejected},
                            {"maxabs_before", r.maxabs_before},
                            {"maxabs_after", rejected ? r.maxabs_before : r.maxabs_after},
                            {"row_maxabs_before", r.row_maxabs_before},
                            {"row_maxabs_after", rejected ? r.row_maxabs_before : r.row_maxabs_after},
                            {"output_ratio", rejected ? 0.0 : ratio},
                            {"output_ratio_on", held ? "heldout" : "calibration"},
                            {"candidate", {{"maxabs_after", r.maxabs_after},
                                           {"row_maxabs_after", r.row_maxabs_after},
                                           {"output_ratio", ratio},
                                           {"output_ratio_calib", ratio_calib}}},
                            {"null_space_angles", angles},
                            {"seconds", seconds_since(t0)}};
      spdlog::log(rejected ? spdlog::level::warn : spdlog::level::info,
                  "{} {:<9} osaq K {:>3}/{}  max|W| {:.4g} -> {:.4g}  row max {:.4g} -> {:.4g}  out-ratio {:.2e}{}",
                  blk_tag(layer, n_layers), model::proj_name(p), r.K, W.cols(), r.maxabs_before, r.maxabs_after,
                  r.row_maxabs_before, r.row_maxabs_after, ratio,
                  rejected ? fmt::format("  (rejected: calibration out-ratio {:.2e} > max_ratio {:g}; kept W)",
                                         ratio_calib, pass.osaq_max_ratio)
                           : std::string());
    }
  }
}

// ---- AWQ --------------------------------------------------------------------------------------------

// o_proj input channel h * hd + d comes from v channel (h / group) * hd + d: heads sharing a kv head
// must share one scale (folded into that v row), so their absmean is averaged before the search.
void tie_gqa(calib::Stats& st, const model::ModelConfig& c) {
  const int hd = c.head_dim, group = c.n_heads / c.n_kv_heads;
  if (group == 1) return;
  for (int g = 0; g < c.n_kv_heads; ++g)
    for (int d = 0; d < hd; ++d) {
      double sum = 0;
      for (int h = g * group; h < (g + 1) * group; ++h) sum += st.abssum[h * hd + d];
      for (int h = g * group; h < (g + 1) * group; ++h) st.abssum[h * hd + d] = sum / group;
    }
}

calib::Stats pad_stats(const calib::Stats& st, int64_t n) {
  if (st.n == n) return st;
  calib::Stats p(n);
  p.N = st.N;
  p.XtX.topLeftCorner(st.n, st.n) = st.XtX;
  p.absmax.head(st.n) = st.absmax;
  p.abssum.head(st.n) = st.abssum;
  return p;
}

void run_awq(BlockWork& w, const Pass& pass, const Recipe& recipe, BlockCalib& bc, const model::ModelConfig& c,
             int layer) {
  for (InputKind k : model::kAllInputs) {
    if (k == InputKind::AttnOut && !pass.awq_o_proj) continue;
    const int i = model::input_index(k);
    const std::vector<model::Proj>& projs = model::projs_reading(k);
    calib::Stats st = bc.st[i];
    if (k == InputKind::AttnOut) tie_gqa(st, c);
    const int64_t n = st.n;
    // The search weighs the readers that are quantized, each in its own format (a ggml preset's types
    // differ by linear; all readers pad alike, as only INT/FP groups pad and those are one spec).
    std::vector<MatF> padded;
    std::vector<formats::QuantSpec> specs;
    int64_t np = n;
    for (model::Proj p : projs)
      if (const std::optional<Pass> s = recipe.solver_for(layer, p)) {
        np = solver_input_dim(*s, n, model::linear_name(layer, p));
        padded.push_back(pad_cols(w.W[model::proj_index(p)], np));
        specs.push_back(s->spec);
      }
    if (padded.empty()) continue;  // every reader stays float
    std::vector<const MatF*> Ws;
    for (const MatF& P : padded) Ws.push_back(&P);
    const methods::AwqResult r = methods::awq_search(Ws, pad_stats(st, np), specs, pass.awq);
    const linalg::Vec s = r.s.head(n);
    for (model::Proj p : projs) {
      const int pi = model::proj_index(p);
      w.W[pi] = methods::apply_awq(w.W[pi], s);
      if (w.W_ref[pi]) w.W_ref[pi] = methods::apply_awq(*w.W_ref[pi], s);
      w.diag[pi]["awq"] = {{"alpha", r.alpha},         {"loss", r.loss},        {"loss_identity", r.loss_identity},
                           {"s_min", s.minCoeff()},     {"s_max", s.maxCoeff()}, {"input", model::input_name(k)}};
    }
    // Fold 1/s into the producer so the float block computes the same function.
    auto fold_rows = [&](model::Proj producer, const linalg::Vec& s_rows) {
      const int pi = model::proj_index(producer);
      const linalg::Vec inv = s_rows.cwiseInverse();
      w.W[pi] = inv.cast<float>().asDiagonal() * w.W[pi];
      if (w.W_ref[pi]) w.W_ref[pi] = inv.cast<float>().asDiagonal() * *w.W_ref[pi];
      if (w.bias[pi]) w.bias[pi] = vec_tensor_div(*w.bias[pi], s_rows);
    };
    switch (k) {
      case InputKind::Attn: w.attn_norm = vec_tensor_div(w.attn_norm, s); break;
      case InputKind::Mlp: w.ffn_norm = vec_tensor_div(w.ffn_norm, s); break;
      case InputKind::MlpOut: fold_rows(model::Proj::Up, s); break;
      case InputKind::AttnOut: {
        const int hd = c.head_dim, group = c.n_heads / c.n_kv_heads;
        linalg::Vec s_v(c.kv_dim());
        for (int h = 0; h < c.n_heads; ++h)
          for (int d = 0; d < hd; ++d) {
            const double v = s[h * hd + d];
            if (h % group == 0) s_v[(h / group) * hd + d] = v;
            HESSQ_CHECK(v == s_v[(h / group) * hd + d], "awq: o_proj scales of heads sharing kv head {} differ", h / group);
          }
        fold_rows(model::Proj::V, s_v);
        break;
      }
    }
    scale_input(bc, k, s);
    w.c[i] = w.c[i].cwiseProduct(s);
    spdlog::info("{} {:<9} awq alpha {:.2f}  loss {:.3e} (identity {:.3e})", blk_tag(layer, c.n_layers),
                 model::input_name(k), r.alpha, r.loss, r.loss_identity);
  }
}

// ---- SmoothQuant (per linear) -----------------------------------------------------------------------

MatF quantize_rows(const std::optional<formats::QuantSpec>& act, const MatF& X) {
  if (!act) return X;
  MatF out(X.rows(), X.cols());
  model::quantize_activations(*act, X.data(), X.rows(), X.cols(), out.data());
  return out;
}

MatF divide_columns(const MatF& X, const VecF& s) {
  MatF out(X.rows(), X.cols());
  for (Eigen::Index t = 0; t < X.rows(); ++t)
    for (Eigen::Index j = 0; j < X.cols(); ++j) out(t, j) = X(t, j) / s[j];
  return out;
}

// For each alpha of the grid, s = smooth_scales(W, absmax, alpha) and the output MSE of
// Q_x(X/s) Q_w(W diag s)^T against X W^T on the sampled tokens; the best alpha wins (ties: the smaller).
void run_smoothquant(BlockWork& w, const Pass& pass, const BlockCalib& bc, const Recipe& r) {
  methods::SmoothOptions so;
  so.min_stat = so.min_scale = pass.smooth.min;
  for (model::Proj p : model::kAllProjs) {
    const int pi = model::proj_index(p), i = model::input_index(model::input_of(p));
    const MatF X = methods::strided_rows(bc.sample[i], pass.smooth.tokens);
    HESSQ_CHECK(X.rows() > 0, "smoothing: no sampled calibration tokens");
    const MatF& W = w.W[pi];
    const VecF amax = bc.st[i].absmax.cast<float>();
    const MatF Y = methods::matmul_nt(X, W);
    double best_mse = std::numeric_limits<double>::infinity(), best_alpha = 0;
    std::vector<double> mses;
    for (double alpha : so.alpha_grid) {
      const VecF s = methods::smooth_scales(W, amax, alpha, so);
      const MatF Y_hat = methods::matmul_nt(quantize_rows(r.act, divide_columns(X, s)),
                                            methods::fake_quant_padded(r.weight_spec(), methods::smooth_weight(W, s)));
      const double mse = (Y_hat.cast<double>() - Y.cast<double>()).squaredNorm() / static_cast<double>(Y.size());
      mses.push_back(mse);
      if (mse < best_mse) {  // strict: ties keep the smaller alpha
        best_mse = mse;
        best_alpha = alpha;
        w.s[pi] = s;
      }
    }
    HESSQ_CHECK(w.s[pi] && w.s[pi]->size() == W.cols(), "smoothing: no alpha gave a finite output error");
    w.diag[pi]["smooth"] = {{"alpha", best_alpha},
                            {"s_min", w.s[pi]->minCoeff()},
                            {"s_max", w.s[pi]->maxCoeff()},
                            {"mse", mses},
                            {"search_tokens", X.rows()}};
  }
}

}  // namespace

void scale_stats(calib::Stats& st, const linalg::Vec& s) {
  const linalg::Vec inv = s.cwiseInverse();
  st.XtX = inv.asDiagonal() * st.XtX * inv.asDiagonal();
  st.absmax = st.absmax.cwiseProduct(inv);
  st.abssum = st.abssum.cwiseProduct(inv);
}

bool BlockWork::scaled() const {
  for (const linalg::Vec& v : c)
    if ((v.array() != 1.0).any()) return true;
  for (const auto& v : s)
    if (v) return true;
  return false;
}

BlockWork begin_block(const model::LayerWeights& L, int layer, const model::ModelConfig& cfg) {
  BlockWork w;
  for (model::Proj p : model::kAllProjs) {
    const model::Linear* lin = &L.linear(p);
    if (auto* h = dynamic_cast<const model::HadamardLinear*>(lin)) lin = h->inner().get();
    auto* d = dynamic_cast<const model::DenseLinear*>(lin);
    HESSQ_CHECK(d != nullptr, "{}: expected a float linear (is the block already quantized?)",
                model::linear_name(layer, p));
    w.W[model::proj_index(p)] = to_mat(d->weight());
    w.bias[model::proj_index(p)] = d->bias();
  }
  for (model::InputKind k : model::kAllInputs)
    w.c[model::input_index(k)] = linalg::Vec::Ones(model::input_features(cfg, k));
  w.attn_norm = L.attn_norm;
  w.ffn_norm = L.ffn_norm;
  return w;
}

void run_block_passes(BlockWork& w, BlockCalib& bc, const Recipe& r, const model::ModelConfig& cfg, int layer) {
  for (const Pass& pass : r.passes) {
    if (pass.name == "osaq") run_osaq(w, pass, bc, layer, cfg.n_layers);
    if (pass.name == "awq") run_awq(w, pass, r, bc, cfg, layer);
    if (pass.name == "smoothquant") run_smoothquant(w, pass, bc, r);
  }
}

}  // namespace hessq::pipeline
