#include "hessq/pipeline/hero_pass.hpp"

#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/core/timer.hpp"
#include "hessq/methods/hero.hpp"
#include "hessq/model/layout.hpp"
#include "hessq/pipeline/block_stats.hpp"
#include "hessq/pipeline/hidden_states.hpp"
#include "hessq/pipeline/matrix_util.hpp"
#include "hessq/transforms/fold_norms.hpp"

namespace hessq::pipeline {

using json = nlohmann::ordered_json;
using methods::MatF;
using model::InputKind;

namespace {

constexpr InputKind kGroupInputs[2] = {InputKind::Attn, InputKind::Mlp};

// One selected block's share of the objective: H and the readers' objective rows per normed input.
struct BlockProblem {
  int layer = 0;
  std::array<MatF, 2> H;                      // Attn, Mlp: [dim, dim] fp32
  std::array<std::vector<MatF>, 2> W;         // the readers of each, in projs_reading order
  MatF H_o, W_o;                              // learned heads: o_proj's input H [q_dim, q_dim] fp32, its rows
};

// v_proj's index among the readers of the attention input (q, k, v).
size_t v_index() {
  const std::vector<model::Proj>& r = model::projs_reading(InputKind::Attn);
  return static_cast<size_t>(std::find(r.begin(), r.end(), model::Proj::V) - r.begin());
}

std::string group_name(int l, InputKind k) {
  return model::layer_tensor_name(l, k == InputKind::Attn ? "input_layernorm" : "post_attention_layernorm");
}

// The deterministic part of the report (summary.hero); the seconds go to the timing (timing_json).
json report_json(const Pass& p, const methods::HeroResult& res, const std::vector<BlockProblem>& blocks) {
  const methods::HeroOptions& o = p.hero.opt;
  json j;
  j["pass"] = p.name;
  j["steps"] = o.steps;
  j["lr_rotation"] = o.lr_rotation;
  j["lr_scale"] = o.learn_scales ? json(o.lr_scale) : json(nullptr);
  j["rho"] = o.rho;
  j["learn_scales"] = o.learn_scales;
  j["seed"] = o.seed;
  j["max_rows"] = o.max_rows;
  j["every"] = p.hero.every;
  json sel = json::array();
  for (const BlockProblem& b : blocks) sel.push_back(b.layer);
  j["blocks"] = sel;
  j["best_step"] = res.best;
  json curve = {{"objective", json::array()}, {"quant", json::array()}, {"cond", json::array()}};
  for (const methods::HeroTerms& t : res.curve) {
    curve["objective"].push_back(t.objective);
    curve["quant"].push_back(t.quant);
    curve["cond"].push_back(t.cond);
  }
  j["curve"] = curve;
  json lin = json::array();
  for (const methods::HeroLinearReport& r : res.linears)
    lin.push_back({{"name", r.name},
                   {"group", r.group},
                   {"loss_before", r.loss_before},
                   {"loss_after", r.loss_after},
                   {"kappa_before", r.kappa_before},
                   {"kappa_after", r.kappa_after},
                   {"lambda_max", r.lambda_max}});
  j["linears"] = lin;
  json d = json::array();
  for (size_t g = 0; g < res.d.size(); ++g) {
    const BlockProblem& b = blocks[g / 2];
    d.push_back({{"group", group_name(b.layer, kGroupInputs[g % 2])},
                 {"min", res.d[g].minCoeff()},
                 {"max", res.d[g].maxCoeff()}});
  }
  j["d"] = d;
  json heads = json::array();
  for (const methods::HeroHeadsReport& h : res.heads)
    heads.push_back({{"name", h.name}, {"o_loss_before", h.o_loss_before}, {"o_loss_after", h.o_loss_after}});
  j["heads"] = heads;
  j["orthogonality_error"] = res.orthogonality_error;
  return j;
}

json timing_json(const methods::HeroResult& res, double stats_s) {
  return {{"statistics_s", stats_s},
          {"optimize_s", res.seconds},
          {"quant_s", res.seconds_quant},
          {"hessian_s", res.seconds_hessian},
          {"update_s", res.seconds_update},
          {"per_step_s", res.seconds / std::max(1, static_cast<int>(res.curve.size()) - 1)}};
}

}  // namespace

int64_t hero_pass_forwards(int every, int n_layers, int64_t calib_windows) {
  if (n_layers <= 0 || every <= 0) return 0;
  const int64_t selected = (n_layers - 1) / every + 1, last = static_cast<int64_t>(every) * ((n_layers - 1) / every);
  return (selected + last) * calib_windows;
}

ModelTransform run_hero_pass(const io::TensorStore& src, const Pass& p, const Pass& solver, const calib::Windows& w,
                             const ModelPassOptions& opt, int64_t& forwards) {
  HESSQ_CHECK(p.name == "hero" || p.name == "spinquant", "run_hero_pass: '{}' is not hero or spinquant", p.name);
  const model::ModelConfig& cfg = src.cfg;
  const HeroParams& hp = p.hero;
  const int64_t dim = cfg.dim;
  HESSQ_CHECK(!w.calib.empty(), "{}: no calibration windows", p.name);
  HESSQ_CHECK(hp.every >= 1, "{}: every = {} must be >= 1", p.name, hp.every);
  // (check_recipe_fits: the weight format's group divides dim, as the objective does not pad.)

  ModelTransform t;
  t.rot = transforms::make_model_rotation(cfg, {hp.opt.seed, hp.online_down, hp.v_o, hp.fallback});
  const linalg::Mat R0 = t.rot->Q.dense();
  // Learned heads: the pre-pass keeps v_proj, o_proj and o_proj's input before the per-head rotation,
  // which the optimizer starts from (Q0 = QuaRot's Hadamard) and folds in at the end.
  const bool heads = hp.heads && t.rot->Hh.has_value();

  // 1. The statistics pre-pass on the float model.
  const auto t0 = Clock::now();
  const int L = cfg.n_layers, last = hp.every * ((L - 1) / hp.every);
  const int64_t n_calib = static_cast<int64_t>(w.calib.size());
  std::vector<BlockProblem> blocks;
  {
    HiddenStates stream(n_calib, w.window, dim, opt.hidden_dtype, opt.spill_file);
    std::vector<float> x(static_cast<size_t>(w.window * dim), 0.0f);
    for (int64_t i = 0; i < n_calib; ++i) {
      src.embed(w.calib[i].data(), static_cast<int>(w.calib[i].size()), x.data());
      stream.write(i, x.data());
    }
    std::optional<Progress> progress;
    if (opt.progress) progress.emplace(p.name + " statistics", last + 1);
    for (int l = 0; l <= last; ++l) {
      model::LayerWeights Lw = with_context(fmt::format("{}: block {}", src.source, l), [&] { return src.layer(l); });
      transforms::fold_layer_norms(Lw, l);
      if (t.rot->Hh && !heads) transforms::rotate_layer_heads_vo(Lw, l, *t.rot->Hh);
      if (l % hp.every == 0) {
        StatsOptions so;
        so.inputs = {true, heads, true, false};
        BlockCalib bc = collect_block_stats(cfg, Lw, l, stream, n_calib, so, forwards);
        BlockProblem b;
        b.layer = l;
        for (int g = 0; g < 2; ++g) {
          const InputKind k = kGroupInputs[g];
          b.H[g] = bc.st[model::input_index(k)].take_H().cast<float>();
          for (model::Proj pr : model::projs_reading(k)) {
            const std::string name = model::linear_name(l, pr);
            const MatF W = to_mat(transforms::dense_linear(*Lw.linear(pr), name).weight());
            // v_proj's rows stay whole with learned heads (the head rotation mixes each head's rows).
            b.W[g].push_back(heads && pr == model::Proj::V ? W : methods::hero_objective_rows(W, hp.opt.max_rows));
          }
        }
        if (heads) {
          b.H_o = bc.st[model::input_index(InputKind::AttnOut)].take_H().cast<float>();
          const std::string name = model::linear_name(l, model::Proj::O);
          b.W_o = methods::hero_objective_rows(to_mat(transforms::dense_linear(*Lw.linear(model::Proj::O), name).weight()),
                                               hp.opt.max_rows);
        }
        blocks.push_back(std::move(b));
      }
      if (l < last) advance_stream(cfg, Lw, l, stream, n_calib, forwards);
      src.release_layer(l);
      if (progress) progress->advance();
    }
    if (progress) progress->finish();
  }
  const double stats_s = seconds_since(t0);

  // 2. The optimizer.
  std::vector<methods::HeroGroup> groups;
  for (const BlockProblem& b : blocks)
    for (int g = 0; g < 2; ++g) {
      methods::HeroGroup hg;
      hg.name = group_name(b.layer, kGroupInputs[g]);
      hg.H_f32 = &b.H[g];
      const std::vector<model::Proj>& readers = model::projs_reading(kGroupInputs[g]);
      for (size_t i = 0; i < readers.size(); ++i) hg.linears.push_back({model::linear_name(b.layer, readers[i]), &b.W[g][i]});
      groups.push_back(std::move(hg));
    }
  std::vector<methods::HeroHeads> hh;
  if (heads)
    for (size_t bi = 0; bi < blocks.size(); ++bi) {
      methods::HeroHeads h;
      h.name = model::layer_tensor_name(blocks[bi].layer, "v_o");
      h.group = 2 * bi;  // the block's attention-input group
      h.v = v_index();
      h.head_dim = cfg.head_dim;
      h.W_o = &blocks[bi].W_o;
      h.H_o_f32 = &blocks[bi].H_o;
      h.Q0 = t.rot->Hh->dense();
      hh.push_back(std::move(h));
    }
  methods::HeroOptions o = hp.opt;
  o.max_rows = 0;  // the rows are already those of the objective (hero_objective_rows)
  spdlog::info("{}: {} steps over {} groups ({} blocks{}) against {}", p.name, o.steps, groups.size(), blocks.size(),
               heads ? ", per-head v -> o rotations" : "", solver.spec.name());
  const methods::HeroResult res =
      with_context(p.name, [&] { return methods::optimize_hero(groups, R0, solver.spec, o, hh); });
  spdlog::info("{}: objective {:.4g} -> {:.4g} (best step {}), quant {:.4g} -> {:.4g}, {:.2f} s", p.name,
               res.curve.front().objective, res.curve[res.best].objective, res.best, res.curve.front().quant,
               res.curve[res.best].quant, res.seconds);

  // 3. The transform: R in place of QuaRot's Q, and d per selected norm (hero only).
  const std::string r0 = t.rot->Q.construction;
  t.rot->Q = transforms::custom_rotation(res.R, fmt::format("{} R (dim)", p.name));
  t.rot->report.residual_kind = transforms::rotation_kind_name(t.rot->Q.kind);
  t.rot->report.residual_construction =
      fmt::format("learned by {} ({} steps, best {}) from {}", p.name, o.steps, res.best, r0);
  if (heads) {
    t.rot->Hh_layer.resize(static_cast<size_t>(L));
    for (size_t bi = 0; bi < blocks.size(); ++bi)
      t.rot->Hh_layer[static_cast<size_t>(blocks[bi].layer)] =
          transforms::custom_rotation(res.Q[bi], fmt::format("{} R_v (head_dim, block {})", p.name, blocks[bi].layer));
    t.rot->report.head_construction = fmt::format("learned by {} per selected block from {}", p.name,
                                                  t.rot->Hh->construction);
  }
  t.d_attn.resize(static_cast<size_t>(L));
  t.d_ffn.resize(static_cast<size_t>(L));
  if (o.learn_scales)
    for (size_t bi = 0; bi < blocks.size(); ++bi)
      for (int g = 0; g < 2; ++g) {
        const linalg::Vec& d = res.d[2 * bi + g];
        Tensor dt = Tensor::zeros({dim});
        for (int64_t j = 0; j < dim; ++j) dt.ptr()[j] = static_cast<float>(d[j]);
        (g == 0 ? t.d_attn : t.d_ffn)[static_cast<size_t>(blocks[bi].layer)] = std::move(dt);
      }
  t.hero = report_json(p, res, blocks);
  t.hero_timing = timing_json(res, stats_s);
  return t;
}

}  // namespace hessq::pipeline
