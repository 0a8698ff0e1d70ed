#include "hessq/pipeline/recipe.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "hessq/core/error.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/model/act_quant_linear.hpp"
#include "hessq/model/layout.hpp"

namespace hessq::pipeline {

namespace {

int line_of(const YAML::Node& n) { return n.Mark().line + 1; }

std::string at_line(const std::string& source, int line) {
  return line > 0 ? fmt::format("{}:{}", source, line) : source;
}

// The YAML scalar as the parameter's type; nullopt if it does not convert.
std::optional<ParamValue> scalar_value(const YAML::Node& node, ParamType type) {
  if (!node.IsScalar()) return std::nullopt;
  try {
    switch (type) {
      case ParamType::Int: return ParamValue(node.as<int64_t>());
      case ParamType::Float: return ParamValue(node.as<double>());
      case ParamType::Bool: return ParamValue(node.as<bool>());
      case ParamType::String: return ParamValue(node.as<std::string>());
    }
  } catch (const YAML::Exception&) {
  }
  return std::nullopt;
}

std::string scalar_string(const YAML::Node& node, const std::string& at, const std::string& key, const char* what) {
  HESSQ_CHECK(node.IsScalar(), "{}: '{}' must be {}, got a list or map", at, key, what);
  return node.as<std::string>();
}

Pass new_pass(const std::string& name, int line, const std::string& at) {
  const PassInfo* info = find_pass(name);
  HESSQ_CHECK(info != nullptr, "{}: unknown pass '{}' (known: {})", at, name, pass_names());
  Pass p;
  p.name = info->name;  // canonical (quarot -> rotate, smooth -> smoothquant)
  p.line = line;
  return p;
}

Pass parse_pass(const YAML::Node& item, const std::string& source) {
  const int line = line_of(item);
  const std::string at = at_line(source, line);
  std::string name;
  YAML::Node params;
  if (item.IsScalar()) {
    name = item.as<std::string>();
  } else if (item.IsMap() && item.size() == 1) {
    name = item.begin()->first.as<std::string>();
    params = item.begin()->second;
  } else {
    HESSQ_FAIL("{}: a pass is written `name: {{param: value, ...}}` (or just `name`)", at);
  }
  Pass p = new_pass(name, line, at);
  const PassInfo& info = *find_pass(p.name);
  if (params && !params.IsNull()) {
    HESSQ_CHECK(params.IsMap(), "{}: {}: parameters must be a map {{param: value, ...}}", at, p.name);
    for (const auto& kv : params) {
      const std::string key = kv.first.as<std::string>();
      const std::string where = at_line(source, line_of(kv.first));
      const ParamInfo* pi = info.find(key);
      HESSQ_CHECK(pi != nullptr, "{}: {}: unknown parameter '{}' (accepted: {})", where, p.name, key, param_names(info));
      std::optional<ParamValue> v = scalar_value(kv.second, pi->type);
      HESSQ_CHECK(v.has_value(), "{}: {}: '{}' must be {}, got '{}'", where, p.name, key, expected_str(*pi),
                  kv.second.IsScalar() ? kv.second.Scalar() : std::string("a list or map"));
      set_param(p, key, *v, where);
    }
  }
  finalize_pass(p, at);
  return p;
}

PassScope scope_of(const Pass& p) { return find_pass(p.name)->scope; }

// rtn after the other passes when the recipe names no solver.
void append_default_solver(Recipe& r) {
  if (!r.passes.empty() && scope_of(r.passes.back()) == PassScope::Solver) return;
  for (const Pass& p : r.passes)
    if (scope_of(p) == PassScope::Solver) return;  // a solver in the middle: validate_recipe says so
  Pass rtn = new_pass("rtn", 0, r.source);
  finalize_pass(rtn, r.source);
  r.passes.push_back(rtn);
}

void set_method_name(Recipe& r) {
  r.method.clear();
  for (const Pass& p : r.passes) r.method += (r.method.empty() ? "" : "+") + p.name;
}

}  // namespace

const Pass* Recipe::find(const std::string& pass) const {
  for (const Pass& p : passes)
    if (p.name == pass) return &p;
  return nullptr;
}

const Pass* Recipe::of_scope(PassScope s) const {
  for (const Pass& p : passes)
    if (scope_of(p) == s) return &p;
  return nullptr;
}

std::optional<Pass> Recipe::solver_for(int layer, model::Proj p) const {
  if (linear_specs.empty()) return solver();
  HESSQ_CHECK(layer >= 0 && layer < static_cast<int>(linear_specs.size()), "{}: no weight formats for layer {}", source,
              layer);
  const std::optional<formats::QuantSpec>& spec = linear_specs[layer][model::proj_index(p)];
  if (!spec) return std::nullopt;
  Pass s = solver();
  s.spec = *spec;
  return s;
}

const Pass* Recipe::branch() const { return of_scope(PassScope::Branch); }

nlohmann::ordered_json Recipe::to_json() const {
  nlohmann::ordered_json j;
  j["source"] = source;
  j["method"] = method;
  j["sequential"] = sequential;
  j["format"] = {{"name", format_name},
                 {"weights", weight_spec().name()},
                 {"activations", act ? nlohmann::ordered_json(act->name()) : nlohmann::ordered_json(nullptr)}};
  if (act) j["activation_quantizer"] = "dynamic, per token (each token's own scales; NVFP4 global scale per token)";
  j["passes"] = nlohmann::ordered_json::array();
  for (const Pass& p : passes) {
    const PassInfo* info = find_pass(p.name);
    nlohmann::ordered_json params = nlohmann::ordered_json::object();
    for (const ParamInfo& pi : info->params) std::visit([&](const auto& v) { params[pi.name] = v; }, pi.get(p));
    if (info->scope == PassScope::Solver) params["resolved_format"] = p.spec.name();
    j["passes"].push_back({{p.name, std::move(params)}});
  }
  if (!linear_specs.empty()) {  // per layer, the 7 block linears' formats in model::kAllProjs order
    j["format"]["ggml_preset"] = ggml_preset;
    j["linear_formats"] = nlohmann::ordered_json::array();
    for (const auto& layer : linear_specs) {
      nlohmann::ordered_json names = nlohmann::ordered_json::array();
      for (const auto& spec : layer) names.push_back(spec ? spec->name() : "f16");
      j["linear_formats"].push_back(std::move(names));
    }
  }
  return j;
}

std::string Recipe::describe() const {
  if (!ggml_preset.empty()) return fmt::format("{} {} (llama-quantize's per-tensor types)", method, ggml_preset);
  if (!act) return fmt::format("{} {}", method, weight_spec().name());
  return fmt::format("{} {} (W {}, A {})", method, format_name.empty() ? weight_spec().name() : format_name,
                     weight_spec().name(), act->name());
}

void set_formats(Recipe& r, const std::string& format, const std::string& wformat, const std::string& aformat,
                 const std::string& where) {
  if (format.empty() && wformat.empty() && aformat.empty()) return;
  Pass& solver = r.passes.back();
  HESSQ_CHECK(!(solver.spec_params_set && (!format.empty() || !wformat.empty())),
              "{}: the weight format is given twice: by the solver's bits/group/sym/format and by format/wformat; "
              "keep one",
              where);
  methods::LayerFormat f;
  if (!format.empty()) {
    f = with_context(where + ": format", [&] { return methods::parse_layer_format(format); });
    solver.spec = f.w;
    r.act = f.x;
    r.format_name = f.name;
  }
  if (!wformat.empty()) solver.spec = with_context(where + ": wformat", [&] { return formats::parse_spec(wformat); });
  if (!aformat.empty()) r.act = with_context(where + ": aformat", [&] { return formats::parse_spec(aformat); });
  if (!wformat.empty() || !aformat.empty())
    r.format_name = r.act ? fmt::format("w:{},a:{}", solver.spec.name(), r.act->name()) : solver.spec.name();
}

void validate_structure(const Recipe& r) {
  HESSQ_CHECK(!r.passes.empty(), "{}: the recipe has no passes", r.source);
  std::set<std::string> seen;
  const Pass* branch = nullptr;
  const Pass* rotation = nullptr;  // rotate, hero, spinquant: each rotates the residual stream
  for (size_t i = 0; i < r.passes.size(); ++i) {
    const Pass& p = r.passes[i];
    const std::string at = at_line(r.source, p.line);
    const PassScope s = scope_of(p);
    const bool last = i + 1 == r.passes.size();
    HESSQ_CHECK(seen.insert(p.name).second, "{}: pass '{}' appears twice", at, p.name);
    HESSQ_CHECK(s != PassScope::Solver || last, "{}: solver '{}' must be the last pass (one solver per recipe)", at,
                p.name);
    HESSQ_CHECK(s == PassScope::Solver || !last, "{}: the recipe must end with a solver (rtn or gptq), not '{}'", at,
                p.name);
    if (i > 0) {
      const Pass& prev = r.passes[i - 1];
      HESSQ_CHECK(scope_of(prev) <= s,
                  "{}: '{}' is a {}-scope pass and must come before the {}-scope pass '{}' (passes run in the order "
                  "model, block, branch, solver)",
                  at, p.name, scope_name(s), scope_name(scope_of(prev)), prev.name);
    }
    if (p.name == "rotate" || p.name == "hero" || p.name == "spinquant") {
      HESSQ_CHECK(rotation == nullptr,
                  "{}: '{}' and '{}' both rotate the residual stream; one model-scope rotation per recipe (hero and "
                  "spinquant start from QuaRot's Hadamard and keep its v -> o and down_proj rotations already)",
                  at, rotation ? rotation->name : "", p.name);
      rotation = &p;
    }
    if (s == PassScope::Branch) {
      HESSQ_CHECK(branch == nullptr, "{}: two low-rank branches ({} and {}); a linear has one branch", at,
                  branch->name, p.name);
      branch = &p;
    }
  }
}

void validate_recipe(const Recipe& r) {
  validate_structure(r);
  const Pass* branch = r.branch();
  const Pass& solver = r.solver();
  const formats::QuantSpec& w = solver.spec;
  with_context(at_line(r.source, solver.line) + ": " + solver.name + " weight format", [&] { formats::validate(w); });
  if (r.act) with_context(r.source + ": activation format", [&] { formats::validate(*r.act); });
  if (solver.name == "gptq") {
    const bool mx = w.format == formats::Format::MxFp4;
    const bool nv = w.format == formats::Format::NvFp4 && !w.nvfp4_ref && w.granularity != formats::Granularity::Tile2D;
    const bool gg = w.format == formats::Format::Ggml;
    HESSQ_CHECK(w.format == formats::Format::Int || mx || nv || gg,
                "{}: gptq supports INT, MXFP4, NVFP4 (1x16) and ggml block weights; the weight format is {} (use rtn "
                "for it)",
                r.source, w.name());
    HESSQ_CHECK(!(mx || nv || gg) || !solver.gptq.act_order,
                "{}: gptq on {} weights does not support act_order (block_order=sum or max orders whole scale blocks)",
                r.source, w.name());
    HESSQ_CHECK(w.format != formats::Format::Int || solver.gptq.block_order == methods::BlockOrder::Natural,
                "{}: gptq's block_order is for MXFP4, NVFP4 and ggml block weights; on {} use act_order", r.source,
                w.name());
  }
  if (branch) {
    const std::string at = at_line(r.source, branch->line);
    HESSQ_CHECK(branch->name == "svdquant" || r.act,
                "{}: {} chooses its branch in the metric of the activation quantization residual, which needs an "
                "activation format (--format / aformat); for weight-only use svdquant",
                at, branch->name);
    HESSQ_CHECK(!branch->branch.alloc || branch->branch.rank > 0, "{}: {}: rank allocation needs a budget rank >= 1",
                at, branch->name);
    HESSQ_CHECK(branch->branch.refine == 0 || !branch->branch.rsvd,
                "{}: refine and rsvd do not combine (the refinement solves exactly)", at);
  }
  const Pass* awq = r.find("awq");
  HESSQ_CHECK(!(awq && awq->awq.clip_search && solver.name != "rtn"),
              "{}: awq's clip_search replaces the rounding of rtn; with {} drop clip_search", r.source, solver.name);
}

int64_t solver_input_dim(const Pass& solver, int64_t n, const std::string& what) {
  const formats::QuantSpec& spec = solver.spec;
  HESSQ_CHECK(spec.format != formats::Format::Ggml || n % spec.group == 0,
              "{}: ggml's {} packs blocks of {} values, which do not divide its {} inputs (a GGUF row cannot be "
              "padded); choose a type whose block divides {} (q4_0, q5_0, q8_0 ... work on multiples of 32)",
              what, spec.name(), spec.group, n, n);
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

void check_recipe_fits(const Recipe& r, const model::ModelConfig& cfg) {
  validate_recipe(r);
  const Pass* branch = r.branch();
  if (const Pass* mp = r.of_scope(PassScope::Model); mp && (mp->name == "hero" || mp->name == "spinquant")) {
    // The objective quantizes the stream's readers (q/k/v/gate/up) as they are, without padding.
    const formats::QuantSpec& w = r.weight_spec();
    const std::string what = fmt::format("{}: {}", at_line(r.source, mp->line), mp->name);
    HESSQ_CHECK(solver_input_dim(r.solver(), cfg.dim, what) == cfg.dim,
                "{}: the weight format {} groups {} inputs, which does not divide dim = {} (the input of "
                "q/k/v/gate/up); the objective does not pad: use a group that divides {}",
                what, w.name(), w.group, cfg.dim, cfg.dim);
  }
  HESSQ_CHECK(r.linear_specs.empty() || static_cast<int>(r.linear_specs.size()) == cfg.n_layers,
              "{}: per-linear weight formats for {} layers, the model has {}", r.source, r.linear_specs.size(),
              cfg.n_layers);
  for (model::Proj p : model::kAllProjs) {
    const auto [m, n] = model::proj_shape(cfg, p);
    const std::string what = fmt::format("{} ({} [{}, {}] in every layer)", r.source, model::proj_name(p), m, n);
    if (r.linear_specs.empty()) solver_input_dim(r.solver(), n, what);
    for (int l = 0; l < static_cast<int>(r.linear_specs.size()); ++l)
      if (const std::optional<Pass> s = r.solver_for(l, p))
        solver_input_dim(*s, n, fmt::format("{} ({} [{}, {}], {})", r.source, model::linear_name(l, p), m, n, s->spec.name()));
    if (r.act) model::check_activation_spec(*r.act, r.weight_spec(), n, what);
    if (branch && !branch->branch.alloc)
      HESSQ_CHECK(branch->branch.rank <= std::min(m, n),
                  "{}: rank {} is too large: a rank-r branch needs r <= min(m, n) = {}", what, branch->branch.rank,
                  std::min(m, n));
  }
}

namespace {
Recipe parse_recipe_yaml(const std::string& yaml_text, const std::string& source);
}

Recipe parse_recipe(const std::string& yaml_text, const std::string& source) {
  try {
    return parse_recipe_yaml(yaml_text, source);
  } catch (const YAML::Exception& e) {  // a node of an unexpected kind, e.g. a sequence used as a key
    if (e.mark.is_null()) HESSQ_FAIL("{}: {}", source, e.msg);
    HESSQ_FAIL("{}:{}: {}", source, e.mark.line + 1, e.msg);
  }
}

namespace {
Recipe parse_recipe_yaml(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    HESSQ_FAIL("{}:{}: YAML syntax error: {}", source, e.mark.line + 1, e.msg);
  }
  Recipe r;
  r.source = source;
  YAML::Node passes;
  std::string format, wformat, aformat;
  if (root.IsSequence()) {
    passes = root;
  } else if (root.IsMap()) {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const std::string at = at_line(source, line_of(kv.first));
      if (key == "passes") {
        passes = kv.second;
      } else if (key == "sequential") {
        auto v = scalar_value(kv.second, ParamType::Bool);
        HESSQ_CHECK(v.has_value(), "{}: 'sequential' must be true or false", at);
        r.sequential = std::get<bool>(*v);
      } else if (key == "format") {
        format = scalar_string(kv.second, at, key, "a format name");
      } else if (key == "wformat") {
        wformat = scalar_string(kv.second, at, key, "a weight quantizer spec");
      } else if (key == "aformat") {
        aformat = scalar_string(kv.second, at, key, "an activation quantizer spec");
      } else if (key != "name" && key != "description") {
        HESSQ_FAIL("{}: unknown recipe key '{}' (accepted: passes, format, wformat, aformat, sequential, name, "
                   "description)",
                   at, key);
      }
    }
  } else {
    HESSQ_FAIL("{}: a recipe is a list of passes, or a map with a 'passes' list", source);
  }
  HESSQ_CHECK(passes && passes.IsSequence() && passes.size() > 0,
              "{}: 'passes' must be a non-empty list such as [{{gptq: {{bits: 4}}}}]", source);
  for (const auto& item : passes) r.passes.push_back(parse_pass(item, source));
  append_default_solver(r);
  set_formats(r, format, wformat, aformat, source);
  set_method_name(r);
  validate_recipe(r);
  return r;
}
}  // namespace

Recipe load_recipe(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HESSQ_CHECK(f.good(), "{}: cannot open recipe", path);
  return parse_recipe(std::string((std::istreambuf_iterator<char>(f)), {}), path);
}

Recipe recipe_for_method(const std::string& method) {
  Recipe r;
  r.source = "--method " + method;
  std::stringstream ss(method);
  std::string name;
  while (std::getline(ss, name, '+')) {
    HESSQ_CHECK(!name.empty(), "{}: empty pass name", r.source);
    r.passes.push_back(new_pass(name, 0, r.source));
  }
  HESSQ_CHECK(!r.passes.empty(), "--method: empty method name");
  for (Pass& p : r.passes) finalize_pass(p, r.source);
  append_default_solver(r);
  set_method_name(r);
  validate_structure(r);
  return r;
}

}  // namespace hessq::pipeline
