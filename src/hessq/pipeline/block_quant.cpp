#include "hessq/pipeline/matrix_util.hpp"
#include "hessq/core/timer.hpp"
#include "hessq/pipeline/block_quant.hpp"

#include <chrono>
#include <cmath>
#include <numbers>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/methods/awq.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/osaq.hpp"
#include "hessq/methods/rtn.hpp"
#include "hessq/runtime/quantized_linear.hpp"

namespace hessq::pipeline {

using json = nlohmann::ordered_json;
using methods::MatF;
using calib::InputKind;

namespace {

int pidx(model::Proj p) { return static_cast<int>(p); }
int kidx(InputKind k) { return calib::input_index(k); }

// The block's weights while it is being transformed, by projection index.
struct Work {
  std::array<MatF, 7> W;      // current weight (every transform applied)
  std::array<MatF, 7> W_ref;  // the float layer in the current input/output space (AWQ only, no OSAQ)
  std::array<std::optional<Tensor>, 7> bias;
  std::array<linalg::Vec, 4> c;  // cumulative input scaling by input: X_now = X_orig / c
  std::array<json, 7> diag;
};

Tensor vec_tensor_div(const Tensor& v, const linalg::Vec& s) {  // v / s, a new tensor
  Tensor out = v.clone();
  for (int64_t j = 0; j < out.numel(); ++j) out.ptr()[j] = static_cast<float>(out.ptr()[j] / s[j]);
  return out;
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

// The statistics of X / s: XtX -> D XtX D, absmax and abssum / s (D = diag(1/s)).
void scale_stats(calib::Stats& st, const linalg::Vec& s) {
  const linalg::Vec inv = s.cwiseInverse();
  st.XtX = inv.asDiagonal() * st.XtX * inv.asDiagonal();
  st.absmax = st.absmax.cwiseProduct(inv);
  st.abssum = st.abssum.cwiseProduct(inv);
}

void scale_all_stats(BlockCalib& bc, InputKind k, const linalg::Vec& s) {
  const int i = kidx(k);
  scale_stats(bc.st[i], s);
  for (auto* opt : {&bc.heldout[i], &bc.half_a[i], &bc.half_b[i]})
    if (*opt) scale_stats(**opt, s);
}

std::vector<model::Proj> projs_of(InputKind k) {
  switch (k) {
    case InputKind::Attn: return {model::Proj::Q, model::Proj::K, model::Proj::V};
    case InputKind::AttnOut: return {model::Proj::O};
    case InputKind::Mlp: return {model::Proj::Gate, model::Proj::Up};
    case InputKind::MlpOut: return {model::Proj::Down};
  }
  return {};
}

std::string blk_tag(int layer, int n_layers) { return fmt::format("[blk {}/{}]", layer + 1, n_layers); }

// ---- OSAQ -------------------------------------------------------------------------------------------

void run_osaq(Work& w, const Pass& pass, const BlockCalib& bc, int layer, int n_layers) {
  for (InputKind k : calib::kAllInputs) {
    const int i = kidx(k);
    const linalg::Mat H = bc.st[i].H();
    const bool held = bc.heldout[i].has_value() && bc.heldout[i]->N > 0;
    const linalg::Mat H_eval = held ? bc.heldout[i]->H() : H;
    json angles = nullptr;
    if (bc.half_a[i] && bc.half_b[i] && bc.half_a[i]->N > 0 && bc.half_b[i]->N > 0) {
      const std::vector<double> a = methods::null_space_angles(bc.half_a[i]->H(), bc.half_b[i]->H(), pass.osaq.gamma,
                                                               pass.osaq.k_rule);
      double mx = 0, sum = 0;
      for (double x : a) mx = std::max(mx, x), sum += x;
      const double deg = 180.0 / std::numbers::pi;
      angles = {{"count", a.size()}, {"max_deg", mx * deg}, {"mean_deg", a.empty() ? 0.0 : sum / a.size() * deg}};
    }
    for (model::Proj p : projs_of(k)) {
      const auto t0 = std::chrono::steady_clock::now();
      MatF& W = w.W[pidx(p)];
      const methods::OsaqResult r = methods::solve_osaq(W, H, pass.osaq);
      const double ratio = methods::output_change_ratio(W, r.dW, H_eval);
      const double ratio_calib = methods::output_change_ratio(W, r.dW, H);
      // [choice] guard (max_ratio > 0, default 0.01; passes.hpp): a change that moves the calibration
      // output by more than max_ratio is not an outlier absorption in a null space; keep W.
      const bool rejected = pass.osaq_max_ratio > 0 && ratio_calib > pass.osaq_max_ratio;
      if (!rejected) W += r.dW;
      // Applied values first; a rejected change leaves W (and its max |w|) as it was.
      w.diag[pidx(p)]["osaq"] = {{"K", r.K},
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

void run_awq(Work& w, const Pass& pass, const Pass& solver, model::LayerWeights& L, BlockCalib& bc,
             const model::ModelConfig& c, int layer) {
  for (InputKind k : calib::kAllInputs) {
    if (k == InputKind::AttnOut && !pass.awq_o_proj) continue;
    const int i = kidx(k);
    const std::vector<model::Proj> projs = projs_of(k);
    calib::Stats st = bc.st[i];
    if (k == InputKind::AttnOut) tie_gqa(st, c);
    const int64_t n = st.n;
    const int64_t np = solver_input_dim(solver, n, io::linear_tensor_prefix(layer, projs[0]));
    std::vector<MatF> padded;
    for (model::Proj p : projs) padded.push_back(pad_cols(w.W[pidx(p)], np));
    std::vector<const MatF*> Ws;
    for (const MatF& P : padded) Ws.push_back(&P);
    const methods::AwqResult r = methods::awq_search(Ws, pad_stats(st, np), solver.spec, pass.awq);
    const linalg::Vec s = r.s.head(n);
    for (model::Proj p : projs) {
      w.W[pidx(p)] = methods::apply_awq(w.W[pidx(p)], s);
      w.W_ref[pidx(p)] = methods::apply_awq(w.W_ref[pidx(p)], s);
      w.diag[pidx(p)]["awq"] = {{"alpha", r.alpha},         {"loss", r.loss},        {"loss_identity", r.loss_identity},
                                {"s_min", s.minCoeff()},     {"s_max", s.maxCoeff()}, {"input", calib::input_name(k)}};
    }
    // Fold 1/s into the producer so the float model computes the same function.
    auto fold_rows = [&](model::Proj producer, const linalg::Vec& s_rows) {
      const int pi = pidx(producer);
      const linalg::Vec inv = s_rows.cwiseInverse();
      w.W[pi] = inv.cast<float>().asDiagonal() * w.W[pi];
      w.W_ref[pi] = inv.cast<float>().asDiagonal() * w.W_ref[pi];
      if (w.bias[pi]) w.bias[pi] = vec_tensor_div(*w.bias[pi], s_rows);
    };
    switch (k) {
      case InputKind::Attn: L.attn_norm = vec_tensor_div(L.attn_norm, s); break;
      case InputKind::Mlp: L.ffn_norm = vec_tensor_div(L.ffn_norm, s); break;
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
    scale_all_stats(bc, k, s);
    w.c[i] = w.c[i].cwiseProduct(s);
    spdlog::info("{} {:<9} awq alpha {:.2f}  loss {:.3e} (identity {:.3e})", blk_tag(layer, c.n_layers),
                 calib::input_name(k), r.alpha, r.loss, r.loss_identity);
  }
}

// ---- solvers ----------------------------------------------------------------------------------------

methods::QuantizedWeight solve(const Recipe& recipe, const MatF& W, const linalg::Mat& H) {
  const Pass& s = recipe.solver();
  if (s.name == "gptq") return methods::solve_gptq(W, H, s.spec, s.gptq);
  const Pass* awq = recipe.find("awq");
  if (awq && awq->awq.clip_search)  // AWQ's clip search replaces plain rounding (W is already scaled)
    return methods::solve_awq(W, H, linalg::Vec::Ones(W.cols()), s.spec, awq->awq);
  return methods::solve_rtn(W, s.spec, &H);
}

}  // namespace

int64_t solver_input_dim(const Pass& solver, int64_t n, const std::string& what) {
  const formats::QuantSpec& spec = solver.spec;
  const bool grouped_scalar = spec.granularity == formats::Granularity::PerGroup && spec.group > 0 &&
                              (spec.format == formats::Format::Int || spec.format == formats::Format::Fp4E2M1 ||
                               spec.format == formats::Format::Fp8E4M3 || spec.format == formats::Format::Fp8E5M2);
  if (!grouped_scalar || n % spec.group == 0) return n;
  const int64_t padded = (n + spec.group - 1) / spec.group * spec.group;
  HESSQ_CHECK(solver.pad,
              "{}: group {} does not divide its {} inputs; set pad: true (zero-pad to {}) or use a group that divides {}",
              what, spec.group, n, padded, n);
  return padded;
}

std::map<std::string, json> quantize_block(model::Model& m, int layer, const Recipe& recipe, BlockCalib& bc,
                                           const BlockOptions& opt, Progress* progress) {
  const model::ModelConfig& c = m.cfg;
  model::LayerWeights& L = m.layers[layer];
  Work w;
  for (model::Proj p : model::kAllProjs) {
    auto* d = dynamic_cast<const model::DenseLinear*>(L.linear(p).get());
    HESSQ_CHECK(d != nullptr, "{}: expected a float linear (is the block already quantized?)",
                io::linear_tensor_prefix(layer, p));
    w.W[pidx(p)] = to_mat(d->weight());
    w.W_ref[pidx(p)] = w.W[pidx(p)];
    w.bias[pidx(p)] = d->bias();
  }
  for (InputKind k : calib::kAllInputs) w.c[kidx(k)] = linalg::Vec::Ones(bc.st[kidx(k)].n);

  for (const Pass& pass : recipe.passes) {
    if (pass.name == "osaq") run_osaq(w, pass, bc, layer, c.n_layers);
    if (pass.name == "awq") run_awq(w, pass, recipe.solver(), L, bc, c, layer);
  }
  std::map<std::string, json> out;
  if (opt.transforms_only) {
    for (model::Proj p : model::kAllProjs) {
      L.linear(p) = std::make_shared<model::DenseLinear>(to_tensor(w.W[pidx(p)]), w.bias[pidx(p)]);
      out[io::linear_tensor_prefix(layer, p)] = w.diag[pidx(p)];
      if (progress) progress->advance();
    }
    return out;
  }

  const Pass& solver = recipe.solver();
  for (InputKind k : calib::kAllInputs) {
    const int i = kidx(k);
    const linalg::Mat H = bc.st[i].H();
    const std::optional<linalg::Mat> H_eval =
        bc.heldout[i] && bc.heldout[i]->N > 0 ? std::optional<linalg::Mat>(bc.heldout[i]->H()) : std::nullopt;
    MatF X;  // the calibration inputs in the current (scaled) space, for dumps
    if (opt.on_linear && bc.X[i].size() > 0) X = bc.X[i] * w.c[i].cwiseInverse().cast<float>().asDiagonal();
    for (model::Proj p : projs_of(k)) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::string name = io::linear_tensor_prefix(layer, p);
      const MatF& W = w.W[pidx(p)];
      const int64_t n = W.cols(), np = solver_input_dim(solver, n, name);
      const MatF W_in = pad_cols(W, np);
      const methods::QuantizedWeight qw =
          with_context("solving " + name, [&] { return solve(recipe, W_in, pad_sym(H, np)); });
      HESSQ_CHECK(qw.W_q.rows() == W.rows() && qw.W_q.cols() == np, "{}: the solver returned [{}, {}], expected [{}, {}]",
                  name, qw.W_q.rows(), qw.W_q.cols(), W.rows(), np);
      auto lin = runtime::make_quantized_linear(qw.spec, W_in.data(), qw.W_q.data(), qw.int_params, W.rows(), np, n,
                                                w.bias[pidx(p)], name);
      const MatF W_q = to_mat(lin->weight());
      const double loss = methods::proxy_loss(W, W_q, H);
      const double loss_float = methods::proxy_loss(w.W_ref[pidx(p)], W_q, H);
      const double signal = methods::quadratic_trace(w.W_ref[pidx(p)], H);
      json& d = w.diag[pidx(p)];
      d["solver"] = solver.name;
      d["loss"] = loss;
      d["loss_vs_float"] = loss_float;
      d["loss_rel"] = signal > 0 ? loss_float / signal : 0.0;
      if (H_eval) {
        const double sig_eval = methods::quadratic_trace(w.W_ref[pidx(p)], *H_eval);
        d["loss_rel_heldout"] = sig_eval > 0 ? methods::proxy_loss(w.W_ref[pidx(p)], W_q, *H_eval) / sig_eval : 0.0;
      }
      if (np != n) d["padded_in"] = np;
      d["seconds"] = seconds_since(t0);
      if (opt.on_linear) opt.on_linear(LinearDump{layer, p, k, W, X, W_q});
      spdlog::info("{} {:<9} {} {}  loss {:.3e} (rel {:.3e})  {:.2f} s", blk_tag(layer, c.n_layers),
                   model::proj_name(p), solver.name, qw.spec.name(), loss, d["loss_rel"].get<double>(),
                   d["seconds"].get<double>());
      L.linear(p) = std::move(lin);
      out[name] = d;
      if (progress) progress->advance();
    }
  }
  return out;
}

}  // namespace hessq::pipeline
