// The pass registry: every recipe pass hessq knows, with its parameters, types, ranges, defaults and
// help. One table feeds the recipe parser (validation, error messages), `hessq quantize --help` and
// the resolved recipe written into hessq.json.
//   transforms change W (and fold into producers) but keep the float model's outputs: osaq, awq;
//   solvers turn W into codes + scales: rtn, gptq. A recipe is transforms, then exactly one solver.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/awq.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/osaq.hpp"

namespace hessq::pipeline {

enum class PassKind { Transform, Solver };
enum class ParamType { Int, Float, Bool, String };
using ParamValue = std::variant<int64_t, double, bool, std::string>;

// One pass with all its options resolved (defaults + recipe values). Only the fields of `name` matter.
struct Pass {
  std::string name;  // "osaq", "awq", "rtn", "gptq"
  int line = 0;      // 1-based line in the recipe file; 0 when built from command-line flags
  methods::OsaqOptions osaq;
  std::string osaq_k_rule = "reach";  // osaq: "reach" (METHODS.md) or "below" (see methods/osaq.hpp)
  // osaq: keep W when the calibration ||X dW^T|| / ||X W^T|| exceeds this (0: off). [choice] on by
  // default: METHODS.md requires the change to leave the output (almost) unchanged, and on inputs
  // without a real null space the closed form moves it by tens of percent (docs/RESULTS.md).
  double osaq_max_ratio = 0.01;
  methods::AwqOptions awq;
  bool awq_o_proj = true;  // awq: also scale o_proj's input (folded into v_proj rows)
  methods::GptqOptions gptq;
  formats::QuantSpec spec = default_weight_spec();  // solvers: the weight format
  std::string format;  // rtn: a formats::parse_spec name that overrides bits/group/sym when set
  bool pad = true;     // solvers: zero-pad the input dim to a multiple of the group (false: error)

  static formats::QuantSpec default_weight_spec();  // int4, per channel, asymmetric
};

struct ParamInfo {
  std::string name;
  ParamType type = ParamType::Float;
  std::string help;
  double min = 0, max = 0;  // inclusive range for Int and Float
  std::function<void(Pass&, const ParamValue&)> set;
  std::function<ParamValue(const Pass&)> get;
};

struct PassInfo {
  std::string name;
  PassKind kind = PassKind::Transform;
  std::string help;
  std::vector<ParamInfo> params;
  const ParamInfo* find(const std::string& param) const;  // nullptr if unknown
};

const std::vector<PassInfo>& pass_registry();
const PassInfo* find_pass(const std::string& name);  // nullptr if unknown
std::string pass_names();                              // "osaq, awq, rtn, gptq"
std::string param_names(const PassInfo& info);         // "bits, group, ..."
std::string param_value_str(const ParamValue& v);
// Every pass and parameter with type, range and default, for --help.
std::string recipe_help();

// After a solver's parameters are set: granularity from `group`, `format` applied. Throws on an
// inconsistent combination, naming `where`.
void finalize_pass(Pass& p, const std::string& where);

}  // namespace hessq::pipeline
