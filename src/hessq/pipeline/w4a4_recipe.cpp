#include "hessq/pipeline/w4a4_recipe.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "hessq/core/error.hpp"

namespace hessq::pipeline {

namespace {

int line_of(const YAML::Node& n) { return n.Mark().line + 1; }

YAML::Node load(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    HESSQ_FAIL("{}:{}: YAML syntax error: {}", source, e.mark.line + 1, e.msg);
  }
}

// The scalar `node` as T, or an error naming the line, the key and what was expected.
template <class T>
T scalar(const YAML::Node& node, const std::string& at, const std::string& key, const char* expected) {
  HESSQ_CHECK(node.IsScalar(), "{}: '{}' must be {}, got a list or map", at, key, expected);
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    HESSQ_FAIL("{}: '{}' must be {}, got '{}'", at, key, expected, node.Scalar());
  }
}

struct Stage {
  std::string name;  // canonical: rotate, smoothquant, svdquant, arhq, arhq-h, rtn, gptq
  YAML::Node params;
  int line = 0;
};

std::string canonical(const std::string& name) {
  if (name == "quarot") return "rotate";
  if (name == "smooth") return "smoothquant";
  return name;
}

// Accepted parameters per stage.
const char* accepted(const std::string& stage) {
  if (stage == "rotate") return "seed, fallback";
  if (stage == "smoothquant") return "tokens";
  if (stage == "svdquant") return "rank, alloc, dtype";
  if (stage == "arhq") return "rank, alloc, dtype, eps, eps_abs";
  if (stage == "arhq-h") return "rank, alloc, dtype, eps, eps_abs, mult";
  if (stage == "gptq") return "act_order, damp";
  return "none";
}

void apply_param(W4a4Config& c, const std::string& stage, const std::string& key, const YAML::Node& v,
                 const std::string& at) {
  const bool lowrank = stage == "svdquant" || stage == "arhq" || stage == "arhq-h";
  const bool arhq = stage == "arhq" || stage == "arhq-h";
  if (stage == "rotate" && key == "seed") {
    c.rotate_opt.seed = scalar<uint64_t>(v, at, key, "a non-negative integer");
  } else if (stage == "rotate" && key == "fallback") {
    c.rotate_opt.allow_random_fallback = scalar<bool>(v, at, key, "true or false");
  } else if (stage == "smoothquant" && key == "tokens") {
    c.smooth_tokens = scalar<int64_t>(v, at, key, "a positive integer");
    HESSQ_CHECK(c.smooth_tokens > 0, "{}: 'tokens' must be a positive integer, got {}", at, c.smooth_tokens);
  } else if (lowrank && key == "rank") {
    c.rank = scalar<int>(v, at, key, "a non-negative integer");
    HESSQ_CHECK(c.rank >= 0, "{}: 'rank' must be a non-negative integer, got {}", at, c.rank);
  } else if (lowrank && key == "alloc") {
    c.allocate = scalar<bool>(v, at, key, "true or false");
  } else if (lowrank && key == "dtype") {
    const std::string d = scalar<std::string>(v, at, key, "f16 or f32");
    HESSQ_CHECK(d == "f16" || d == "f32", "{}: 'dtype' must be f16 or f32, got '{}'", at, d);
    c.lowrank_storage = d == "f32" ? methods::LowRankStorage::F32 : methods::LowRankStorage::F16;
  } else if (arhq && key == "eps") {
    c.eps = scalar<double>(v, at, key, "a positive number");
    HESSQ_CHECK(c.eps > 0, "{}: 'eps' must be a positive number, got {}", at, c.eps);
  } else if (arhq && key == "eps_abs") {
    c.eps_relative = !scalar<bool>(v, at, key, "true or false");
  } else if (stage == "arhq-h" && key == "mult") {
    c.arhq_h_mult = scalar<double>(v, at, key, "a non-negative number");
    HESSQ_CHECK(c.arhq_h_mult >= 0, "{}: 'mult' must be a non-negative number, got {}", at, c.arhq_h_mult);
  } else if (stage == "gptq" && key == "act_order") {
    c.gptq.act_order = scalar<bool>(v, at, key, "true or false");
  } else if (stage == "gptq" && key == "damp") {
    c.gptq.damp = scalar<double>(v, at, key, "a number in (0, 1]");
    HESSQ_CHECK(c.gptq.damp > 0 && c.gptq.damp <= 1, "{}: 'damp' must be a number in (0, 1], got {}", at, c.gptq.damp);
  } else {
    HESSQ_FAIL("{}: {}: unknown parameter '{}' (accepted: {})", at, stage, key, accepted(stage));
  }
}

}  // namespace

bool is_w4a4_recipe(const std::string& yaml_text) {
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    return root.IsMap() && root["format"];
  } catch (const YAML::Exception&) {
    return false;  // the weight-only parser reports the syntax error
  }
}

W4a4Config parse_w4a4_recipe(const std::string& yaml_text, const std::string& source) {
  const YAML::Node root = load(yaml_text, source);
  HESSQ_CHECK(root.IsMap(), "{}: a W4A4 recipe is a map with 'format' and 'passes'", source);
  std::string format, wformat, aformat;
  bool sequential = true;
  std::vector<Stage> stages;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const std::string at = fmt::format("{}:{}", source, line_of(kv.first));
    if (key == "format") format = scalar<std::string>(kv.second, at, key, "a format name");
    else if (key == "wformat") wformat = scalar<std::string>(kv.second, at, key, "a weight quantizer spec");
    else if (key == "aformat") aformat = scalar<std::string>(kv.second, at, key, "an activation quantizer spec");
    else if (key == "sequential") sequential = scalar<bool>(kv.second, at, key, "true or false");
    else if (key == "passes") {
      HESSQ_CHECK(kv.second.IsSequence() && kv.second.size() > 0,
                  "{}: 'passes' must be a non-empty list such as [{{arhq: {{rank: 8}}}}, rtn]", at);
      for (const auto& item : kv.second) {
        Stage s;
        s.line = line_of(item);
        if (item.IsScalar()) {
          s.name = item.as<std::string>();
        } else if (item.IsMap() && item.size() == 1) {
          s.name = item.begin()->first.as<std::string>();
          s.params = item.begin()->second;
        } else {
          HESSQ_FAIL("{}:{}: a pass is written `name: {{param: value, ...}}` (or just `name`)", source, s.line);
        }
        s.name = canonical(s.name);
        stages.push_back(s);
      }
    } else if (key != "name" && key != "description") {
      HESSQ_FAIL("{}: unknown W4A4 recipe key '{}' (accepted: format, wformat, aformat, sequential, passes, name, "
                 "description)",
                 at, key);
    }
  }
  HESSQ_CHECK(!stages.empty(), "{}: the recipe has no 'passes'", source);
  std::string method;
  for (const Stage& s : stages) method += (method.empty() ? "" : "+") + s.name;
  W4a4Config c;
  try {
    c = w4a4_config_for_method(method, format, 0, false);
  } catch (const Error& e) {
    HESSQ_FAIL("{}: {}", source, e.what());
  }
  c.method = method;
  if (!wformat.empty() || !aformat.empty())
    c.format = methods::layer_format_from_specs(wformat.empty() ? c.format.w.name() : wformat,
                                                aformat.empty() ? c.format.x.name() : aformat);
  c.sequential = sequential;
  for (const Stage& s : stages) {
    if (!s.params || s.params.IsNull()) continue;
    const std::string at = fmt::format("{}:{}", source, s.line);
    HESSQ_CHECK(s.params.IsMap(), "{}: {}: parameters must be a map {{param: value, ...}}", at, s.name);
    for (const auto& kv : s.params)
      apply_param(c, s.name, kv.first.as<std::string>(), kv.second, fmt::format("{}:{}", source, line_of(kv.first)));
  }
  return c;
}

}  // namespace hessq::pipeline
