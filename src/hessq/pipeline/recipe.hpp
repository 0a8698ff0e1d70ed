// Recipes: the formats and an ordered list of passes (passes.hpp), in one YAML dialect, e.g.
//
//   format: nvfp4            # optional: a layer format (weights and activations; quantize --help lists them)
//   wformat: int4-g128       # optional: the weight quantizer (replaces the format's weight side)
//   aformat: int8-tok        # optional: an activation quantizer (none: weight-only)
//   sequential: true         # optional: block k calibrates on the outputs of the quantized blocks < k
//   passes:
//     - rotate: {seed: 0}
//     - osaq: {gamma: 1e-4}
//     - arhq: {rank: 16}
//     - gptq: {bits: 3, group: 64, act_order: true}   # bits/group/sym/format: the weight format
//
// (a bare list of passes is accepted too). Weight-only is a recipe without an activation format;
// W4A4 / W4A8 are recipes with one. Without a solver, rtn is appended. Errors name the file, the line,
// the pass and the key, and list what is accepted.
#pragma once
#include <array>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/model/config.hpp"
#include "hessq/model/linear.hpp"
#include "hessq/pipeline/passes.hpp"

namespace hessq::pipeline {

// One weight spec per block linear, [layer][model::proj_index(p)]; nullopt: the linear stays float.
using LinearSpecs = std::vector<std::array<std::optional<formats::QuantSpec>, std::size(model::kAllProjs)>>;

struct Recipe {
  std::vector<Pass> passes;  // scope order; the solver last
  bool sequential = true;
  std::string source;       // the recipe file, or "--method osaq+gptq"
  std::string method;       // the passes joined by '+', e.g. "rotate+gptq" (reports)
  // Activation quantizer Q_x applied at run time to every block linear's input; none: weight-only.
  std::optional<formats::QuantSpec> act;
  // The layer format's name when one was given (nvfp4, w4a8, "w:int4-g128,a:int8-tok"), for reports.
  std::string format_name;
  // Weight specs that differ by linear: quantize --ggml-type PRESET sets them (pipeline/ggml_plan.hpp,
  // llama-quantize's per-tensor types). Empty: every block linear takes the solver's spec.
  LinearSpecs linear_specs;
  std::string ggml_preset;  // that preset's name, for reports

  const Pass& solver() const { return passes.back(); }
  // The solver of block linear (layer, p): solver() with that linear's weight spec; nullopt when the
  // linear stays float (a preset's F16 fallback).
  std::optional<Pass> solver_for(int layer, model::Proj p) const;
  const formats::QuantSpec& weight_spec() const { return solver().spec; }
  const Pass* find(const std::string& pass) const;  // by canonical name; nullptr if absent
  const Pass* branch() const;                       // the svdquant / arhq / arhq-h pass, if any
  const Pass* of_scope(PassScope s) const;          // the first pass of that scope, if any
  nlohmann::ordered_json to_json() const;           // every parameter, resolved
  std::string describe() const;  // "gptq int4-g128" / "arhq+gptq nvfp4 (W nvfp4, A nvfp4)"
};

Recipe parse_recipe(const std::string& yaml_text, const std::string& source);
Recipe load_recipe(const std::string& path);

// A recipe from pass names joined by '+', e.g. "gptq", "osaq+gptq", "quarot+gptq", "smooth+arhq";
// rtn is appended when no solver is named. Parameters keep their defaults (set_param changes them);
// only the structure is checked here (validate_structure): the caller sets parameters and formats,
// then calls validate_recipe.
Recipe recipe_for_method(const std::string& method);

// Sets the formats: `format` a layer format name (methods::layer_format_table: weights and
// activations), `wformat` / `aformat` formats::parse_spec names replacing either side (an aformat
// alone makes a weight-only recipe W/A). Throws if the solver's bits/group/sym/format were also given.
void set_formats(Recipe& r, const std::string& format, const std::string& wformat, const std::string& aformat,
                 const std::string& where);

// The order and multiplicity of the passes (validate_recipe's first half).
void validate_structure(const Recipe& r);
// Structure and combinations, without a model: passes in scope order, each at most once, one branch
// at most, exactly one solver and last; arhq / arhq-h need an activation format; gptq's weight
// formats (INT, MXFP4, NVFP4 1x16; act_order on INT only); branch ranks and options. Throws saying
// why a combination makes no sense.
void validate_recipe(const Recipe& r);

// Everything that can be checked against a model before calibrating, for every block linear of
// `cfg`: linear_specs' shape, the weight group vs the input dim (padding), the activation format and its pairing with the
// weight format, the branch rank vs min(m, n). Errors name the linear (e.g. "k_proj [32, 64] in every
// layer").
void check_recipe_fits(const Recipe& r, const model::ModelConfig& cfg);

// The input dim a solver works on: n, or n zero-padded to a multiple of the group when the weight
// spec is grouped, does not divide n, and `pad`; throws naming `what` when padding is off.
int64_t solver_input_dim(const Pass& solver, int64_t n, const std::string& what);

}  // namespace hessq::pipeline
