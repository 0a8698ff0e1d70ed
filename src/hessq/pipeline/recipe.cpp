#include "hessq/pipeline/recipe.hpp"

#include <cmath>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "hessq/core/error.hpp"

namespace hessq::pipeline {

const Pass* Recipe::find(const std::string& pass) const {
  for (const Pass& p : passes)
    if (p.name == pass) return &p;
  return nullptr;
}

nlohmann::ordered_json Recipe::to_json() const {
  nlohmann::ordered_json j;
  j["source"] = source;
  j["sequential"] = sequential;
  j["passes"] = nlohmann::ordered_json::array();
  for (const Pass& p : passes) {
    const PassInfo* info = find_pass(p.name);
    nlohmann::ordered_json params = nlohmann::ordered_json::object();
    for (const ParamInfo& pi : info->params) std::visit([&](const auto& v) { params[pi.name] = v; }, pi.get(p));
    if (info->kind == PassKind::Solver) params["resolved_format"] = p.spec.name();
    j["passes"].push_back({{p.name, std::move(params)}});
  }
  return j;
}

static std::string expected_str(const ParamInfo& pi) {
  switch (pi.type) {
    case ParamType::Int: return fmt::format("an integer in [{}, {}]", pi.min, pi.max);
    case ParamType::Float: return fmt::format("a number in [{}, {}]", pi.min, pi.max);
    case ParamType::Bool: return "true or false";
    case ParamType::String: return "a string";
  }
  return "?";
}

void set_param(Pass& pass, const std::string& key, const ParamValue& value, const std::string& where) {
  const PassInfo* info = find_pass(pass.name);
  HESSQ_CHECK(info != nullptr, "{}: unknown pass '{}' (known: {})", where, pass.name, pass_names());
  const ParamInfo* pi = info->find(key);
  HESSQ_CHECK(pi != nullptr, "{}: {}: unknown parameter '{}' (accepted: {})", where, pass.name, key,
              param_names(*info));
  const bool type_ok = (pi->type == ParamType::Int && std::holds_alternative<int64_t>(value)) ||
                       (pi->type == ParamType::Float && std::holds_alternative<double>(value)) ||
                       (pi->type == ParamType::Bool && std::holds_alternative<bool>(value)) ||
                       (pi->type == ParamType::String && std::holds_alternative<std::string>(value));
  HESSQ_CHECK(type_ok, "{}: {}: '{}' must be {}, got {}", where, pass.name, key, expected_str(*pi),
              param_value_str(value));
  if (pi->type == ParamType::Int || pi->type == ParamType::Float) {
    const double x = std::holds_alternative<int64_t>(value) ? static_cast<double>(std::get<int64_t>(value))
                                                            : std::get<double>(value);
    HESSQ_CHECK(std::isfinite(x) && x >= pi->min && x <= pi->max, "{}: {}: '{}' must be {}, got {}", where,
                pass.name, key, expected_str(*pi), param_value_str(value));
  }
  pi->set(pass, value);
}

// The YAML scalar as the parameter's type; nullopt if it does not convert.
static std::optional<ParamValue> scalar_value(const YAML::Node& node, ParamType type) {
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

static int line_of(const YAML::Node& n) { return n.Mark().line + 1; }

static Pass parse_pass(const YAML::Node& item, const std::string& source) {
  const int line = line_of(item);
  const std::string at = fmt::format("{}:{}", source, line);
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
  const PassInfo* info = find_pass(name);
  HESSQ_CHECK(info != nullptr, "{}: unknown pass '{}' (known: {})", at, name, pass_names());
  Pass p;
  p.name = name;
  p.line = line;
  if (params && !params.IsNull()) {
    HESSQ_CHECK(params.IsMap(), "{}: {}: parameters must be a map {{param: value, ...}}", at, name);
    for (const auto& kv : params) {
      const std::string key = kv.first.as<std::string>();
      const std::string where = fmt::format("{}:{}", source, line_of(kv.first));
      const ParamInfo* pi = info->find(key);
      HESSQ_CHECK(pi != nullptr, "{}: {}: unknown parameter '{}' (accepted: {})", where, name, key, param_names(*info));
      std::optional<ParamValue> v = scalar_value(kv.second, pi->type);
      HESSQ_CHECK(v.has_value(), "{}: {}: '{}' must be {}, got '{}'", where, name, key, expected_str(*pi),
                  kv.second.IsScalar() ? kv.second.Scalar() : std::string("a list or map"));
      set_param(p, key, *v, where);
    }
  }
  finalize_pass(p, at);
  return p;
}

void validate_recipe(const Recipe& r) {
  HESSQ_CHECK(!r.passes.empty(), "{}: the recipe has no passes", r.source);
  std::set<std::string> seen;
  for (size_t i = 0; i < r.passes.size(); ++i) {
    const Pass& p = r.passes[i];
    const std::string at = p.line > 0 ? fmt::format("{}:{}", r.source, p.line) : r.source;
    const bool solver = find_pass(p.name)->kind == PassKind::Solver;
    const bool last = i + 1 == r.passes.size();
    HESSQ_CHECK(!solver || last, "{}: solver '{}' must be the last pass (one solver per recipe)", at, p.name);
    HESSQ_CHECK(solver || !last, "{}: the recipe must end with a solver (rtn or gptq), not the transform '{}'", at,
                p.name);
    HESSQ_CHECK(seen.insert(p.name).second, "{}: pass '{}' appears twice", at, p.name);
  }
}

Recipe parse_recipe(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    HESSQ_FAIL("{}:{}: YAML syntax error: {}", source, e.mark.line + 1, e.msg);
  }
  Recipe r;
  r.source = source;
  YAML::Node passes;
  if (root.IsSequence()) {
    passes = root;
  } else if (root.IsMap()) {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const std::string at = fmt::format("{}:{}", source, line_of(kv.first));
      if (key == "passes") {
        passes = kv.second;
      } else if (key == "sequential") {
        auto v = scalar_value(kv.second, ParamType::Bool);
        HESSQ_CHECK(v.has_value(), "{}: 'sequential' must be true or false", at);
        r.sequential = std::get<bool>(*v);
      } else if (key != "name" && key != "description") {
        HESSQ_FAIL("{}: unknown recipe key '{}' (accepted: passes, sequential, name, description)", at, key);
      }
    }
  } else {
    HESSQ_FAIL("{}: a recipe is a list of passes, or a map with a 'passes' list", source);
  }
  HESSQ_CHECK(passes && passes.IsSequence() && passes.size() > 0,
              "{}: 'passes' must be a non-empty list such as [{{gptq: {{bits: 4}}}}]", source);
  for (const auto& item : passes) r.passes.push_back(parse_pass(item, source));
  validate_recipe(r);
  return r;
}

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
    HESSQ_CHECK(find_pass(name) != nullptr, "--method {}: unknown pass '{}' (known: {}; e.g. rtn, gptq, awq, osaq+gptq)",
                method, name, pass_names());
    Pass p;
    p.name = name;
    r.passes.push_back(p);
  }
  if (!r.passes.empty() && r.passes.back().name == "awq") {
    Pass rtn;
    rtn.name = "rtn";
    r.passes.push_back(rtn);
  }
  for (Pass& p : r.passes) finalize_pass(p, r.source);
  validate_recipe(r);
  return r;
}

}  // namespace hessq::pipeline
