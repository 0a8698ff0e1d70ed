#include "hessq/pipeline/driver.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "hessq/calib/sequential.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/io/hessq_format.hpp"

namespace hessq::pipeline {

using json = nlohmann::ordered_json;

void check_recipe_fits(const Recipe& recipe, const model::ModelConfig& cfg) {
  validate_recipe(recipe);
  const Pass& solver = recipe.solver();
  with_context(recipe.source + ": " + solver.name, [&] { formats::validate(solver.spec); });
  for (model::Proj p : model::kAllProjs) {
    const int64_t n = calib::input_features(cfg, calib::input_of(p));
    solver_input_dim(solver, n, fmt::format("{} (every layer's {} has {} inputs)", recipe.source, model::proj_name(p), n));
  }
}

static double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

static std::optional<calib::Stats> nonempty(const calib::Stats& s) {
  return s.N > 0 ? std::optional<calib::Stats>(s) : std::nullopt;
}

// Means over layers, per projection, of the numeric diagnostics the tables report.
static json summarize(const std::map<std::string, json>& diag) {
  struct Acc {
    double sum = 0;
    int n = 0;
  };
  std::map<std::string, std::map<std::string, Acc>> acc;  // proj -> key -> mean
  auto add = [&](const std::string& proj, const std::string& key, const json& v) {
    if (!v.is_number()) return;
    Acc& a = acc[proj][key];
    a.sum += v.get<double>();
    ++a.n;
    Acc& all = acc["all"][key];
    all.sum += v.get<double>();
    ++all.n;
  };
  for (const auto& [name, d] : diag) {
    const std::string proj = name.substr(name.rfind('.') + 1);
    for (const char* key : {"loss_rel", "loss_rel_heldout"})
      if (d.contains(key)) add(proj, key, d[key]);
    if (d.contains("osaq"))
      for (const char* key : {"K", "output_ratio", "maxabs_before", "maxabs_after", "row_maxabs_before", "row_maxabs_after"})
        add(proj, std::string("osaq_") + key, d["osaq"][key]);
    if (d.contains("osaq")) add(proj, "osaq_rejected", d["osaq"]["rejected"].get<bool>() ? 1.0 : 0.0);
    if (d.contains("awq")) add(proj, "awq_alpha", d["awq"]["alpha"]);
  }
  json out = json::object();
  for (const auto& [proj, keys] : acc)
    for (const auto& [key, a] : keys) out[proj][key] = a.sum / a.n;
  return out;
}

QuantizeResult quantize_model(const model::Model& float_model, const Recipe& recipe, const calib::Windows& windows,
                              const DriverOptions& opt) {
  const auto t_start = std::chrono::steady_clock::now();
  const model::ModelConfig& c = float_model.cfg;
  check_recipe_fits(recipe, c);
  HESSQ_CHECK(!windows.calib.empty(), "no calibration windows");
  QuantizeResult res;
  res.model = float_model;  // shares tensors; quantize_block replaces what it changes, never writes in place
  const bool osaq = recipe.find("osaq") != nullptr;
  calib::BlockStatsOptions bo;
  bo.halves = osaq && windows.calib.size() >= 2;
  bo.keep_inputs = static_cast<bool>(opt.block.on_linear);
  double t_calib = 0, t_solve = 0;
  std::optional<Progress> progress;
  if (opt.progress) progress.emplace("quantize", static_cast<int64_t>(c.n_layers) * 7);
  for (int layer = 0; layer < c.n_layers; ++layer) {
    const auto t0 = std::chrono::steady_clock::now();
    const model::Model& src = recipe.sequential ? res.model : float_model;
    calib::BlockStats bs = calib::collect_block_stats(src, layer, windows.calib, bo);
    BlockCalib bc;
    for (int i = 0; i < 4; ++i) {
      bc.st[i] = std::move(bs.all[i]);
      if (bo.halves) {
        bc.half_a[i] = nonempty(bs.half_a[i]);
        bc.half_b[i] = nonempty(bs.half_b[i]);
      }
      if (bo.keep_inputs) {
        const int64_t n = bc.st[i].n, rows = static_cast<int64_t>(bs.inputs[i].size()) / n;
        bc.X[i] = Eigen::Map<const methods::MatF>(bs.inputs[i].data(), rows, n);
        bs.inputs[i] = {};
      }
    }
    if (!windows.heldout.empty()) {
      calib::BlockStats hs = calib::collect_block_stats(src, layer, windows.heldout, {});
      for (int i = 0; i < 4; ++i) bc.heldout[i] = nonempty(hs.all[i]);
    }
    t_calib += since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    auto diag = with_context(fmt::format("block {}", layer), [&] {
      return quantize_block(res.model, layer, recipe, bc, opt.block, progress ? &*progress : nullptr);
    });
    t_solve += since(t1);
    res.diagnostics.merge(diag);
  }
  if (progress) progress->finish();
  res.summary = summarize(res.diagnostics);
  res.timing = {{"calibration_forward_s", t_calib}, {"solve_s", t_solve}, {"total_s", since(t_start)}};
  // Seconds are the only non-deterministic numbers: keep them out of the diagnostics.
  for (auto& [name, d] : res.diagnostics) {
    json t = json::object();
    if (d.contains("seconds")) t["solve_s"] = d["seconds"], d.erase("seconds");
    if (d.contains("osaq") && d["osaq"].contains("seconds")) t["osaq_s"] = d["osaq"]["seconds"], d["osaq"].erase("seconds");
    res.timing["linears"][name] = std::move(t);
  }
  spdlog::info("quantized {} blocks in {:.2f} s (calibration forwards {:.2f} s, solving {:.2f} s)", c.n_layers,
               since(t_start), t_calib, t_solve);
  return res;
}

}  // namespace hessq::pipeline
