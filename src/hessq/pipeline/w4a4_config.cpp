#include "hessq/pipeline/w4a4_config.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "hessq/calib/capture.hpp"
#include "hessq/core/error.hpp"
#include "hessq/pipeline/block_quant.hpp"
#include "hessq/pipeline/w4a4_shapes.hpp"
#include "hessq/runtime/act_quant_linear.hpp"

namespace hessq::pipeline {

const char* lowrank_method_name(LowRankMethod m) {
  switch (m) {
    case LowRankMethod::None: return "";
    case LowRankMethod::Svdquant: return "svdquant";
    case LowRankMethod::Arhq: return "arhq";
    case LowRankMethod::ArhqH: return "arhq-h";
  }
  return "?";
}

std::vector<double> W4a4Config::default_alpha_grid() {
  std::vector<double> g;
  for (int i = 0; i <= 20; ++i) g.push_back(i * 0.05);
  return g;
}

nlohmann::ordered_json W4a4Config::to_json() const {
  nlohmann::ordered_json j;
  j["method"] = method;
  j["format"] = {{"name", format.name}, {"weights", format.w.name()}, {"activations", format.x.name()}};
  j["rotate"] = rotate ? nlohmann::ordered_json{{"seed", rotate_opt.seed},
                                                {"online_down", rotate_opt.online_down},
                                                {"rotate_v_o", rotate_opt.rotate_v_o},
                                                {"allow_random_fallback", rotate_opt.allow_random_fallback}}
                       : nlohmann::ordered_json(nullptr);
  j["smoothquant"] = smooth ? nlohmann::ordered_json{{"alpha_grid", alpha_grid},
                                                     {"search_tokens", smooth_tokens},
                                                     {"min", smooth_min}}
                            : nlohmann::ordered_json(nullptr);
  if (lowrank != LowRankMethod::None) {
    j["lowrank"] = {{"method", lowrank_method_name(lowrank)},
                    {"rank", rank},
                    {"allocate", allocate},
                    {"storage", methods::lowrank_storage_name(lowrank_storage)}};
    if (lowrank != LowRankMethod::Svdquant) {
      j["lowrank"]["eps"] = eps;
      j["lowrank"]["eps_relative"] = eps_relative;
    }
    if (lowrank == LowRankMethod::ArhqH) j["lowrank"]["mult"] = arhq_h_mult;
  } else {
    j["lowrank"] = nullptr;
  }
  j["solver"] = {{"name", solver}, {"pad", pad}};
  if (solver == "gptq")
    j["solver"].update({{"damp", gptq.damp}, {"act_order", gptq.act_order}, {"static_groups", gptq.static_groups},
                        {"block", gptq.block}});
  j["sequential"] = sequential;
  j["activation_quantizer"] = "dynamic, per token (each token's own scales; NVFP4 global scale per token)";
  return j;
}

W4a4Config w4a4_config_for_method(const std::string& method, const std::string& format, int rank, bool smooth) {
  W4a4Config c;
  c.method = method;
  c.format = methods::parse_layer_format(format);
  c.smooth = smooth;
  c.rank = rank;
  std::set<std::string> seen;
  bool solver_set = false;
  std::stringstream ss(method);
  std::string stage;
  auto set_lowrank = [&](LowRankMethod m) {
    HESSQ_CHECK(c.lowrank == LowRankMethod::None, "--method {}: two low-rank stages ({} and {})", method,
                lowrank_method_name(c.lowrank), lowrank_method_name(m));
    c.lowrank = m;
  };
  while (std::getline(ss, stage, '+')) {
    HESSQ_CHECK(seen.insert(stage).second, "--method {}: stage '{}' appears twice", method, stage);
    if (stage == "quarot" || stage == "rotate") c.rotate = true;
    else if (stage == "smoothquant" || stage == "smooth") c.smooth = true;
    else if (stage == "svdquant") set_lowrank(LowRankMethod::Svdquant);
    else if (stage == "arhq") set_lowrank(LowRankMethod::Arhq);
    else if (stage == "arhq-h") set_lowrank(LowRankMethod::ArhqH);
    else if (stage == "rtn" || stage == "gptq") {
      HESSQ_CHECK(!solver_set, "--method {}: two solvers", method);
      c.solver = stage;
      solver_set = true;
    } else {
      HESSQ_FAIL("--method {}: unknown W4A4 stage '{}' (known: quarot, smoothquant, svdquant, arhq, arhq-h, rtn, gptq; "
                 "e.g. rtn, gptq, smoothquant, svdquant, arhq, arhq-h, quarot+rtn, quarot+gptq, arhq+gptq, "
                 "smooth+arhq)",
                 method, stage);
    }
  }
  HESSQ_CHECK(!seen.empty(), "--method: empty method name");
  return c;
}

void check_w4a4_fits(const W4a4Config& c, const model::ModelConfig& cfg) {
  const std::string who = "--method " + c.method;
  HESSQ_CHECK(c.solver == "rtn" || c.solver == "gptq", "{}: solver must be rtn or gptq, got '{}'", who, c.solver);
  HESSQ_CHECK(c.rank >= 0, "{}: --rank must be >= 0, got {}", who, c.rank);
  HESSQ_CHECK(c.lowrank != LowRankMethod::None || c.rank == 0,
              "{}: --rank {} needs a low-rank stage (svdquant, arhq or arhq-h)", who, c.rank);
  HESSQ_CHECK(!c.allocate || (c.lowrank != LowRankMethod::None && c.rank > 0),
              "{}: rank allocation needs a low-rank stage and a budget rank >= 1", who);
  HESSQ_CHECK(!c.smooth || !c.alpha_grid.empty(), "{}: the smoothing alpha grid is empty", who);
  for (double a : c.alpha_grid) HESSQ_CHECK(a >= 0 && a <= 1, "{}: smoothing alpha {} outside [0, 1]", who, a);
  HESSQ_CHECK(c.eps > 0, "{}: the ARHQ eigenvalue clamp must be > 0, got {}", who, c.eps);
  HESSQ_CHECK(c.arhq_h_mult >= 0, "{}: the arhq-h multiplier must be >= 0, got {}", who, c.arhq_h_mult);
  formats::validate(c.format.w);
  if (c.solver == "gptq") {
    const formats::QuantSpec& w = c.format.w;
    const bool mx = w.format == formats::Format::MxFp4;
    const bool nv = w.format == formats::Format::NvFp4 && !w.nvfp4_ref && w.granularity != formats::Granularity::Tile2D;
    HESSQ_CHECK(w.format == formats::Format::Int || mx || nv,
                "{}: gptq supports INT, MXFP4 and NVFP4 (1x16) weight formats; the weight format is {} (use --format "
                "int4, mxfp4 or nvfp4, or rtn for {})",
                who, w.name(), c.format.name);
    HESSQ_CHECK(!(mx || nv) || !c.gptq.act_order, "{}: gptq on {} weights does not support act-order", who, w.name());
  }
  Pass solver;  // the weight side's padding rule, shared with the weight-only pipeline
  solver.name = c.solver;
  solver.spec = c.format.w;
  solver.pad = c.pad;
  for (model::Proj p : model::kAllProjs) {
    const auto [m, n] = proj_shape(cfg, p);
    const std::string name = fmt::format("{} ({} [{}, {}] in every layer)", who, model::proj_name(p), m, n);
    runtime::check_activation_spec(c.format.x, c.format.w, n, name);
    solver_input_dim(solver, n, name);
    HESSQ_CHECK(c.allocate || c.rank <= std::min(m, n),
                "{}: rank {} is too large for {} [{}, {}]: a rank-r branch needs r <= min(m, n) = {}", who, c.rank,
                model::proj_name(p), m, n, std::min(m, n));
  }
}

}  // namespace hessq::pipeline
