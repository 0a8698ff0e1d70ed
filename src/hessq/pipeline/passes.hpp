// The pass registry: every pass hessq knows, with its scope, parameters, types, ranges, defaults and
// help. One table feeds the recipe parser (YAML and --method), the validation and its messages,
// `hessq quantize --help` and the resolved recipe written into hessq.json. A pass's scope says what
// it sees and changes:
//   model   rotate (QuaRot), hero, spinquant     every block's weights, the embedding and the head,
//                                                  float outputs unchanged (one of them per recipe)
//   block   smoothquant, awq, osaq                 one block's weights from its calibration statistics
//                                                  (scales folded into producers or kept per linear)
//   branch  svdquant, arhq, arhq-h                 one linear: a rank-r fp branch L, the solver
//                                                  quantizes W - L
//   solver  rtn, gptq                              one linear: W (or W - L) onto the weight format
// A recipe runs its passes in scope order (model, block, branch, solver), each at most once, one
// branch pass at most and exactly one solver (rtn when none is named).
// Adding a method: its solver/transform function in methods/, one row here, its step in
// pipeline/block_passes.cpp or pipeline/solve_linear.cpp, and its tests.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/awq.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/hero.hpp"
#include "hessq/methods/osaq.hpp"
#include "hessq/transforms/rotation.hpp"

namespace hessq::pipeline {

enum class PassScope { Model, Block, Branch, Solver };
const char* scope_name(PassScope s);  // "model", "block", "branch", "solver"
enum class ParamType { Int, Float, Bool, String };
using ParamValue = std::variant<int64_t, double, bool, std::string>;

// SmoothQuant per linear (METHODS.md "Baselines"): alpha searched on {0, 0.05, ..., 1}.
struct SmoothParams {
  int64_t tokens = 1024;  // strided calibration tokens for the alpha search's output MSE
  double min = 1e-5;      // floor of absmax, max|W| and s (methods::SmoothOptions)
};

// The low-rank branch (SVDQuant, ARHQ, ARHQ-H; METHODS.md "ARHQ").
struct BranchParams {
  int rank = 0;            // per linear; with alloc, the uniform rank whose budget is shared
  bool alloc = false;      // ranks per linear under the budget rank * sum(m + n)
  std::string dtype = "f16";  // storage of the factors: f16 or f32
  double eps = 1e-6;       // arhq: eigenvalue clamp of G
  bool eps_abs = false;    // arhq: eps is absolute (the reference code's rule) instead of relative
  double mult = 16;        // arhq-h: H + mult * beta * G
  bool rsvd = false;       // randomized SVD (oversampling 10, 2 power iterations) instead of exact
  int refine = 0;          // arhq: quantization-aware refinement iterations (methods/arhq_refine.hpp)
  int64_t refine_tokens = 1024;  // strided calibration tokens the refinement fits
};

// HeRo-Q / SpinQuant as a model pass (pipeline/hero_pass.hpp; METHODS.md "HeRo-Q").
struct HeroParams {
  // steps, lr_rotation, lr_scale, rho, max_rows, seed (power iterations and R0's signs); spinquant:
  // rho 0 and d = 1 (methods::spinquant_options, set by finalize_pass).
  methods::HeroOptions opt;
  int every = 1;            // groups of blocks l with l % every == 0 enter the objective and get d
  bool v_o = true;          // QuaRot's per-head Hadamard between v_proj and o_proj
  bool heads = true;        // learn it per selected block from that Hadamard (only with v_o; methods::HeroHeads)
  bool online_down = true;  // QuaRot's online Hadamard before down_proj
  bool fallback = true;     // sizes without a Hadamard construction get a seeded random orthogonal block
};

// One pass with all its options resolved (defaults + recipe values). Only the fields of `name` matter.
struct Pass {
  std::string name;  // canonical: rotate, hero, spinquant, smoothquant, awq, osaq, svdquant, arhq, arhq-h, rtn, gptq
  int line = 0;      // 1-based line in the recipe file; 0 when built from command-line flags
  transforms::RotateOptions rotate;
  HeroParams hero;  // hero, spinquant
  SmoothParams smooth;
  methods::AwqOptions awq;
  bool awq_o_proj = true;  // awq: also scale o_proj's input (folded into v_proj rows)
  methods::OsaqOptions osaq;
  std::string osaq_k_rule = "reach";  // osaq: "reach" (METHODS.md) or "below" (see methods/osaq.hpp)
  // osaq: keep W when the calibration ||X dW^T|| / ||X W^T|| exceeds this (0: off). [choice] on by
  // default: METHODS.md requires the change to leave the output (almost) unchanged, and on inputs
  // without a real null space the closed form moves it by tens of percent (docs/RESULTS.md).
  double osaq_max_ratio = methods::kOsaqMaxRatio;
  BranchParams branch;
  methods::GptqOptions gptq;
  std::string gptq_block_order = "natural";  // gptq: natural, sum or max (methods::BlockOrder)
  // gptq: weight of each calibration window's first token in X^T X (pipeline::StatsOptions::first_weight).
  double gptq_first_weight = 1;
  formats::QuantSpec spec = default_weight_spec();  // solvers: the weight format
  std::string format;  // solvers: a formats::parse_spec name that overrides bits/group/sym when set
  bool pad = true;     // solvers: zero-pad the input dim to a multiple of the group (false: error)
  bool rtn_importance = false;  // rtn on ggml block types: ggml's weighted quantizer with diag(H) (an imatrix)
  bool spec_params_set = false;  // solvers: bits/group/sym/format were given (conflicts with a recipe format)

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
  std::vector<std::string> aliases;  // e.g. quarot for rotate
  PassScope scope = PassScope::Block;
  std::string help;
  std::vector<ParamInfo> params;
  const ParamInfo* find(const std::string& param) const;  // nullptr if unknown
};

const std::vector<PassInfo>& pass_registry();
const PassInfo* find_pass(const std::string& name);  // by name or alias; nullptr if unknown
std::string pass_names();                              // "rotate (quarot), smoothquant (smooth), ..."
std::string param_names(const PassInfo& info);         // "bits, group, ..."
std::string param_value_str(const ParamValue& v);
std::string expected_str(const ParamInfo& pi);          // "an integer in [2, 8]", ...
// Every pass and parameter with scope, type, range and default, for --help.
std::string recipe_help();

// Sets one parameter with the registry's type and range checks; `where` prefixes errors.
void set_param(Pass& pass, const std::string& key, const ParamValue& value, const std::string& where);
// After a pass's parameters are set: solvers get their granularity from `group` and `format` applied;
// osaq its K rule. Throws on an inconsistent combination, naming `where`.
void finalize_pass(Pass& p, const std::string& where);

}  // namespace hessq::pipeline
