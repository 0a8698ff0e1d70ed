#include "hessq/core/timer.hpp"
#include "hessq/pipeline/w4a4_driver.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "hessq/calib/sequential.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/pipeline/w4a4_alloc.hpp"
#include "hessq/pipeline/w4a4_block.hpp"
#include "hessq/pipeline/w4a4_linear.hpp"
#include "hessq/pipeline/w4a4_shapes.hpp"
#include "hessq/transforms/rotation.hpp"

namespace hessq::pipeline {

using json = nlohmann::ordered_json;

namespace {

int pidx(model::Proj p) { return static_cast<int>(p); }

struct StageTimes {
  double rotate = 0, allocate = 0, calib = 0, smooth = 0, metric = 0, lowrank = 0, residual = 0, diag = 0;
};

// Totals over the block linears and means of the per-linear diagnostics per projection.
json summarize(const model::Model& m, const std::map<std::string, json>& diag) {
  int64_t params = 0, extra = 0;
  double bits = 0;
  for (const auto& L : m.layers)
    for (model::Proj p : model::kAllProjs) {
      const model::Linear* lin = &L.linear(p);
      if (auto* h = dynamic_cast<const model::HadamardLinear*>(lin)) lin = h->inner().get();
      auto* a = dynamic_cast<const runtime::ActQuantLinear*>(lin);
      if (!a) continue;
      const int64_t mn = static_cast<int64_t>(a->out_features()) * a->in_features();
      params += mn;
      extra += a->extra_params();
      bits += a->bits_per_weight() * static_cast<double>(mn);
    }
  json s;
  s["linear_params"] = params;
  s["extra_params"] = extra;
  s["extra_params_pct"] = params > 0 ? 100.0 * static_cast<double>(extra) / static_cast<double>(params) : 0.0;
  s["bits_per_weight"] = params > 0 ? bits / static_cast<double>(params) : 0.0;
  std::map<std::string, std::map<std::string, std::pair<double, int>>> acc;
  for (const auto& [name, d] : diag) {
    const std::string proj = name.substr(name.rfind('.') + 1);
    for (const char* key : {"snr_db", "snr_rtn_db", "rank", "bits_per_weight"})
      if (d.contains(key) && d[key].is_number())
        for (const std::string& g : {proj, std::string("all")}) {
          acc[g][key].first += d[key].get<double>();
          acc[g][key].second += 1;
        }
    if (d.contains("smooth"))
      for (const std::string& g : {proj, std::string("all")}) {
        acc[g]["smooth_alpha"].first += d["smooth"]["alpha"].get<double>();
        acc[g]["smooth_alpha"].second += 1;
      }
  }
  for (const auto& [g, keys] : acc)
    for (const auto& [key, a] : keys) s["mean"][g][key] = a.first / a.second;
  return s;
}

}  // namespace

W4a4Result quantize_model_w4a4(const model::Model& float_model, const W4a4Config& c, const calib::Windows& windows,
                               const W4a4Options& opt) {
  const auto t_start = Clock::now();
  const model::ModelConfig& cfg = float_model.cfg;
  check_w4a4_fits(c, cfg);
  HESSQ_CHECK(!windows.calib.empty(), "no calibration windows");
  W4a4Result res;
  StageTimes t;

  // Step 0: rotation of the float model (it keeps the float outputs).
  res.model = float_model;
  res.rotation = nullptr;
  if (c.rotate) {
    const auto t0 = Clock::now();
    const transforms::RotateReport rep = transforms::rotate_model(res.model, c.rotate_opt);
    res.rotation = transforms::rotate_report_json(rep);
    t.rotate = seconds_since(t0);
    spdlog::info("rotated: residual {}, heads {}, down_proj {} ({:.2f} s)", rep.residual_construction,
                 rep.head_construction, rep.down_construction, t.rotate);
  }
  const model::Model float_rot = res.model;  // the float (rotated) model: non-sequential inputs, allocation

  // Step 1: ranks per linear.
  std::vector<std::array<int, 7>> ranks(cfg.n_layers);
  for (auto& r : ranks) r.fill(c.lowrank == LowRankMethod::None ? 0 : c.rank);
  json alloc_report = nullptr;
  if (c.allocate) {
    const auto t0 = Clock::now();
    ranks = allocate_w4a4_ranks(float_rot, windows, c, alloc_report);
    t.allocate = seconds_since(t0);
  }

  // Step 2: block by block.
  std::optional<Progress> progress;
  if (opt.progress) progress.emplace("w4a4", static_cast<int64_t>(cfg.n_layers) * 7);
  for (int layer = 0; layer < cfg.n_layers; ++layer) {
    const model::Model& src = c.sequential ? res.model : float_rot;
    const BlockPrep bp = with_context(fmt::format("block {}", layer), [&] {
      return prepare_w4a4_block(src, res.model, layer, windows, c, ranks[layer]);
    });
    t.calib += bp.calib_s;
    t.smooth += bp.smooth_s;
    t.metric += bp.metric_s;
    model::LayerWeights& L = res.model.layers[layer];
    for (model::Proj p : model::kAllProjs) {
      const int pi = pidx(p);
      const std::string name = io::linear_tensor_prefix(layer, p);
      LinearProblem prob;
      prob.name = name;
      prob.W = &bp.W[pi];
      prob.bias = bp.bias[pi];
      prob.s = bp.s[pi];
      prob.H = bp.H[pi].get();
      prob.metric = bp.metric[pi].get();
      prob.rank = ranks[layer][pi];
      prob.X_sample = &bp.X_sample[calib::input_index(calib::input_of(p))];
      LinearSolution sol = solve_w4a4_linear(prob, c);
      t.lowrank += sol.lowrank_s;
      t.residual += sol.residual_s;
      t.diag += sol.diag_s;
      json d = bp.diag[pi];
      d.update(sol.diag);
      spdlog::info("[blk {}/{}] {:<9} {} r{} {}/{}  snr {:.2f} dB (plain {:.2f} dB)  {:.2f} s", layer + 1,
                   cfg.n_layers, model::proj_name(p), c.method, d["rank"].get<int>(), c.format.w.name(),
                   c.format.x.name(), d.value("snr_db", 0.0), d.value("snr_rtn_db", 0.0),
                   sol.lowrank_s + sol.residual_s);
      std::shared_ptr<model::Linear> q = sol.linear;
      if (auto* h = dynamic_cast<const model::HadamardLinear*>(L.linear(p).get())) q = h->with_inner(q);
      L.linear(p) = std::move(q);
      res.diagnostics[name] = std::move(d);
      if (progress) progress->advance();
    }
  }
  if (progress) progress->finish();

  res.summary = summarize(res.model, res.diagnostics);
  if (!alloc_report.is_null()) res.summary["allocation"] = alloc_report;
  res.timing = {{"rotate_s", t.rotate},          {"allocate_s", t.allocate},  {"calibration_forward_s", t.calib},
                {"smooth_search_s", t.smooth},   {"metric_s", t.metric},      {"lowrank_s", t.lowrank},
                {"residual_solve_s", t.residual}, {"diagnostics_s", t.diag},  {"total_s", seconds_since(t_start)}};
  spdlog::info("W4A4 {} ({}): {} blocks in {:.2f} s, {:.3f} effective bits/weight, {:.2f}% extra parameters", c.method,
               c.format.name, cfg.n_layers, seconds_since(t_start), res.summary["bits_per_weight"].get<double>(),
               res.summary["extra_params_pct"].get<double>());
  return res;
}

}  // namespace hessq::pipeline
