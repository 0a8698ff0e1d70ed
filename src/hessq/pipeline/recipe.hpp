// Recipes: an ordered list of passes with parameters, in YAML, e.g.
//
//   sequential: true          # optional: block k calibrates on the outputs of quantized blocks < k
//   passes:
//     - osaq: {gamma: 1e-4}
//     - gptq: {bits: 3, group: 64, act_order: true}
//
// (a bare list of passes is accepted too). Passes and their parameters come from the registry
// (passes.hpp). Errors name the file, the line, the pass and the key, and list what is accepted.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/pipeline/passes.hpp"

namespace hessq::pipeline {

struct Recipe {
  std::vector<Pass> passes;  // transforms, then exactly one solver
  bool sequential = true;
  std::string source;  // the recipe file, or "--method osaq+gptq"

  const Pass& solver() const { return passes.back(); }
  const Pass* find(const std::string& pass) const;  // nullptr if absent
  nlohmann::ordered_json to_json() const;           // every parameter, resolved
};

Recipe parse_recipe(const std::string& yaml_text, const std::string& source);
Recipe load_recipe(const std::string& path);

// A one-method recipe: pass names joined by '+', e.g. "gptq", "osaq+gptq"; a method ending with awq
// gets rtn appended ("awq" = awq then rtn, "osaq+awq" = osaq, awq, rtn).
Recipe recipe_for_method(const std::string& method);
// Sets one parameter with the registry's type and range checks; `where` prefixes errors.
void set_param(Pass& pass, const std::string& key, const ParamValue& value, const std::string& where);
// Structure: at least one pass, exactly one solver and it is last, each transform at most once.
void validate_recipe(const Recipe& r);

}  // namespace hessq::pipeline
