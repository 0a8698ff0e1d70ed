#include "hessq/pipeline/passes.hpp"

#include <cmath>
#include <type_traits>

#include <fmt/format.h>

#include "hessq/core/error.hpp"

namespace hessq::pipeline {

formats::QuantSpec Pass::default_weight_spec() {
  formats::QuantSpec s;
  s.format = formats::Format::Int;
  s.bits = 4;
  s.symmetric = false;  // [choice] asymmetric min-max by default, as GPTQ's and AWQ's reference code
  s.granularity = formats::Granularity::PerChannel;
  s.group = 0;
  return s;
}

namespace {

// Small constructors for the table below: `ref` names the option a parameter sets.
template <class T>
ParamInfo typed_param(std::string name, ParamType type, std::string help, double lo, double hi,
                      std::function<T&(Pass&)> ref) {
  return ParamInfo{std::move(name), type, std::move(help), lo, hi,
                   [ref](Pass& p, const ParamValue& v) {
                     if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
                       ref(p) = static_cast<T>(std::get<int64_t>(v));
                     else if constexpr (std::is_same_v<T, double>) ref(p) = std::get<double>(v);
                     else if constexpr (std::is_same_v<T, bool>) ref(p) = std::get<bool>(v);
                     else ref(p) = std::get<std::string>(v);
                   },
                   [ref](const Pass& p) {
                     const T& x = ref(const_cast<Pass&>(p));
                     if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
                       return ParamValue(static_cast<int64_t>(x));
                     else return ParamValue(x);
                   }};
}

ParamInfo p_int(std::string n, std::string h, double lo, double hi, std::function<int&(Pass&)> r) {
  return typed_param<int>(std::move(n), ParamType::Int, std::move(h), lo, hi, std::move(r));
}
ParamInfo p_int64(std::string n, std::string h, double lo, double hi, std::function<int64_t&(Pass&)> r) {
  return typed_param<int64_t>(std::move(n), ParamType::Int, std::move(h), lo, hi, std::move(r));
}
ParamInfo p_uint64(std::string n, std::string h, double lo, double hi, std::function<uint64_t&(Pass&)> r) {
  return typed_param<uint64_t>(std::move(n), ParamType::Int, std::move(h), lo, hi, std::move(r));
}
ParamInfo p_float(std::string n, std::string h, double lo, double hi, std::function<double&(Pass&)> r) {
  return typed_param<double>(std::move(n), ParamType::Float, std::move(h), lo, hi, std::move(r));
}
ParamInfo p_bool(std::string n, std::string h, std::function<bool&(Pass&)> r) {
  return typed_param<bool>(std::move(n), ParamType::Bool, std::move(h), 0, 1, std::move(r));
}
ParamInfo p_string(std::string n, std::string h, std::function<std::string&(Pass&)> r) {
  return typed_param<std::string>(std::move(n), ParamType::String, std::move(h), 0, 0, std::move(r));
}

// The weight-format parameters every solver takes.
// A weight-format parameter: setting it marks the solver's format as given in the recipe.
ParamInfo spec_param(ParamInfo info) {
  auto set = info.set;
  info.set = [set](Pass& p, const ParamValue& v) {
    set(p, v);
    p.spec_params_set = true;
  };
  return info;
}

// The weight-format parameters every solver takes.
std::vector<ParamInfo> spec_params() {
  return {
      spec_param(p_int("bits", "integer bits per weight", 2, 8, [](Pass& p) -> int& { return p.spec.bits; })),
      spec_param(p_int("group", "inputs per scale group; 0 = one scale per output channel", 0, 1 << 20,
                       [](Pass& p) -> int& { return p.spec.group; })),
      spec_param(p_bool("sym", "symmetric (no zero point) instead of asymmetric min-max",
                        [](Pass& p) -> bool& { return p.spec.symmetric; })),
      p_bool("pad", "zero-pad an input dim the group does not divide (false: refuse such layers)",
             [](Pass& p) -> bool& { return p.pad; }),
      spec_param(p_string("format", "a format name (int4-g128, fp4-g32, nvfp4, mxfp4, ...) instead of bits/group/sym",
                          [](Pass& p) -> std::string& { return p.format; })),
  };
}

// The parameters of the three branch passes; `arhq`: the metric's, `mult`: arhq-h's.
std::vector<ParamInfo> branch_params(bool arhq, bool mult) {
  std::vector<ParamInfo> v = {
      p_int("rank", "rank of every linear's branch (with alloc: the budget rank)", 0, 1 << 16,
            [](Pass& p) -> int& { return p.branch.rank; }),
      p_bool("alloc", "share the budget rank * sum(m + n) over all linears (ranks allocated per linear)",
             [](Pass& p) -> bool& { return p.branch.alloc; }),
      p_string("dtype", "storage of the branch factors: f16 or f32", [](Pass& p) -> std::string& { return p.branch.dtype; }),
      p_bool("rsvd", "randomized SVD (oversampling 10, 2 power iterations) instead of the exact one",
             [](Pass& p) -> bool& { return p.branch.rsvd; }),
  };
  if (arhq) {
    v.push_back(p_float("eps", "eigenvalue clamp of the metric, relative to its largest eigenvalue", 1e-300, 1,
                        [](Pass& p) -> double& { return p.branch.eps; }));
    v.push_back(p_bool("eps_abs", "eps is absolute (the reference code's rule)",
                       [](Pass& p) -> bool& { return p.branch.eps_abs; }));
    v.push_back(p_int("refine", "quantization-aware refinement iterations (0: plain ARHQ)", 0, 100,
                      [](Pass& p) -> int& { return p.branch.refine; }));
    v.push_back(p_int64("refine_tokens", "strided calibration tokens the refinement fits", 1, int64_t{1} << 40,
                        [](Pass& p) -> int64_t& { return p.branch.refine_tokens; }));
  }
  if (mult)
    v.push_back(p_float("mult", "m in the metric H + m beta G", 0, 1e9, [](Pass& p) -> double& { return p.branch.mult; }));
  return v;
}

// The parameters of hero (`scales`: also those of the scalings d and the conditioning term) and
// spinquant (rotation only).
std::vector<ParamInfo> hero_params(bool scales) {
  std::vector<ParamInfo> v = {
      p_int("steps", scales ? "optimizer steps (Cayley on R, Adam on log d)" : "optimizer steps (Cayley on R)", 1, 1000000,
            [](Pass& p) -> int& { return p.hero.opt.steps; }),
      p_float("lr_rotation", "Frobenius norm of each Cayley step's generator, linearly decayed", 1e-9, 0.999,
              [](Pass& p) -> double& { return p.hero.opt.lr_rotation; }),
  };
  if (scales) {
    v.push_back(p_float("lr_scale", "Adam learning rate on log d, linearly decayed", 1e-12, 100,
                        [](Pass& p) -> double& { return p.hero.opt.lr_scale; }));
    v.push_back(p_float("rho", "weight of the conditioning term log(lambda_max(H') / mean eig(H'))", 0, 1e6,
                        [](Pass& p) -> double& { return p.hero.opt.rho; }));
  }
  v.push_back(p_uint64("seed", "seed of R0 (QuaRot's Hadamard signs) and of the power iterations", 0, 9.0e15,
                       [](Pass& p) -> uint64_t& { return p.hero.opt.seed; }));
  v.push_back(p_int64("max_rows", "rows of each weight in the objective (whole 16-row blocks, evenly spaced); 0 = all",
                      0, int64_t{1} << 40, [](Pass& p) -> int64_t& { return p.hero.opt.max_rows; }));
  v.push_back(p_int("every", "blocks l with l % every == 0 enter the objective (and get d); others keep d = 1", 1,
                    1 << 20, [](Pass& p) -> int& { return p.hero.every; }));
  v.push_back(p_bool("v_o", "QuaRot's per-head rotation between v_proj and o_proj", [](Pass& p) -> bool& { return p.hero.v_o; }));
  v.push_back(p_bool("heads",
                     "learn the per-head rotation between v_proj and o_proj (one per selected block, from QuaRot's "
                     "Hadamard; off when v_o is off)",
                     [](Pass& p) -> bool& { return p.hero.heads; }));
  v.push_back(p_bool("online_down", "QuaRot's online Hadamard before down_proj",
                     [](Pass& p) -> bool& { return p.hero.online_down; }));
  v.push_back(p_bool("fallback", "sizes without a known Hadamard construction get a seeded random orthogonal block",
                     [](Pass& p) -> bool& { return p.hero.fallback; }));
  return v;
}

std::vector<PassInfo> build_registry() {
  std::vector<PassInfo> r;
  r.push_back(PassInfo{
      "rotate", {"quarot"}, PassScope::Model,
      "QuaRot-style rotation (Ashkboos et al. 2024): norms folded, a seeded Hadamard rotation of the residual "
      "stream folded into the weights, per-head rotations v -> o, an online Hadamard before down_proj; float "
      "outputs unchanged",
      {p_uint64("seed", "seed of the residual rotation's signs (and of any random-orthogonal fallback)", 0, 9.0e15,
                [](Pass& p) -> uint64_t& { return p.rotate.seed; }),
       p_bool("fallback", "sizes without a known Hadamard construction get a seeded random orthogonal block",
              [](Pass& p) -> bool& { return p.rotate.allow_random_fallback; }),
       p_bool("online_down", "rotate down_proj's input at run time", [](Pass& p) -> bool& { return p.rotate.online_down; }),
       p_bool("v_o", "per-head rotation between v_proj and o_proj", [](Pass& p) -> bool& { return p.rotate.rotate_v_o; })}});
  r.push_back(PassInfo{
      "hero", {}, PassScope::Model,
      "HeRo-Q (METHODS.md): norms folded, a learned rotation R of the residual stream (from QuaRot's seeded "
      "Hadamard, Cayley SGD) and per-norm scalings d (Adam on log d) minimizing the layers' relative quantization "
      "loss + rho * log condition ratio of H', on the float model's statistics; folded into the weights and norms "
      "(QuaRot's v -> o and online down_proj rotations kept); float outputs unchanged",
      hero_params(true)});
  r.push_back(PassInfo{
      "spinquant", {}, PassScope::Model,
      "SpinQuant-style learned rotation (Liu et al. 2024): hero with rho = 0 and d = 1, i.e. only R is learned, on "
      "the layer-wise objective",
      hero_params(false)});
  r.push_back(PassInfo{
      "smoothquant", {"smooth"}, PassScope::Block,
      "SmoothQuant (Xiao et al. 2022) per linear: s = absmax^alpha / max|W|^(1-alpha), alpha searched on "
      "{0, 0.05, ..., 1} for the quantized layer's output error; x / s kept as the layer's input transform",
      {p_int64("tokens", "strided calibration tokens for the alpha search", 1, int64_t{1} << 40,
               [](Pass& p) -> int64_t& { return p.smooth.tokens; }),
       p_float("min", "floor of absmax, max|W| and s", 0, 1, [](Pass& p) -> double& { return p.smooth.min; })}});
  r.push_back(PassInfo{
      "awq", {}, PassScope::Block,
      "Activation-aware scaling (Lin et al. 2023): s = absmean^alpha per shared input, alpha searched on a grid "
      "against the solver's format, 1/s folded into the producer (RMSNorm, v_proj rows, up_proj rows)",
      {p_int("grid", "alpha grid points in [0, 1)", 1, 1000, [](Pass& p) -> int& { return p.awq.grid; }),
       p_bool("clip_search", "also search a clipping ratio per group", [](Pass& p) -> bool& { return p.awq.clip_search; }),
       p_bool("o_proj", "also scale o_proj's input (folded into v_proj rows; tied over heads sharing a kv head)",
              [](Pass& p) -> bool& { return p.awq_o_proj; })}});
  r.push_back(PassInfo{
      "osaq", {}, PassScope::Block,
      "Outlier self-absorption (METHODS.md OSAQ): W += B N^T with N the near-null space of H, so X W^T is kept "
      "while the rows' max |w| shrink",
      {p_float("gamma", "null-space tail energy fraction that fixes K", 1e-12, 0.5,
               [](Pass& p) -> double& { return p.osaq.gamma; }),
       p_float("tau", "softmax temperature relative to each row's max |w|", 1e-6, 100,
               [](Pass& p) -> double& { return p.osaq.tau; }),
       p_float("mu1", "ridge, relative to tr(N^T S_i N)", 0, 1e6, [](Pass& p) -> double& { return p.osaq.mu1; }),
       p_float("mu2", "row-mean penalty, relative to tr(N^T S_i N)", 0, 1e6,
               [](Pass& p) -> double& { return p.osaq.mu2; }),
       p_string("k_rule", "reach: K reaches gamma of the energy (METHODS.md); below: K stays under it",
                [](Pass& p) -> std::string& { return p.osaq_k_rule; }),
       p_float("max_ratio", "keep a linear's W when its calibration output change ratio exceeds this (0: never)", 0,
               1e6, [](Pass& p) -> double& { return p.osaq_max_ratio; }),
       p_bool("row_guard", "keep a row's w when the change would raise its max |w|",
              [](Pass& p) -> bool& { return p.osaq.row_guard; })}});
  r.push_back(PassInfo{"svdquant", {}, PassScope::Branch,
                       "SVDQuant (Li et al. 2024): rank-r branch from the SVD of W; the solver quantizes W - L",
                       branch_params(false, false)});
  r.push_back(PassInfo{"arhq", {}, PassScope::Branch,
                       "ARHQ (METHODS.md): rank-r branch from the SVD of W in the metric G of the activation "
                       "quantization residual; needs an activation format",
                       branch_params(true, false)});
  r.push_back(PassInfo{"arhq-h", {}, PassScope::Branch,
                       "ARHQ-H: ARHQ in the metric H + mult * beta * G (beta = tr G / tr H)", branch_params(true, true)});
  std::vector<ParamInfo> rtn = spec_params();
  rtn.push_back(p_bool("clip_search", "grid-search a clipping ratio in [0.5, 1] per group (min squared error)",
                       [](Pass& p) -> bool& { return p.spec.clip_search; }));
  rtn.push_back(p_bool("imatrix", "ggml block types: ggml's weighted quantizer with diag(H) as the importance "
                                  "(llama-quantize with an importance matrix)",
                       [](Pass& p) -> bool& { return p.rtn_importance; }));
  r.push_back(PassInfo{"rtn", {}, PassScope::Solver, "Round to nearest with the chosen format", std::move(rtn)});
  std::vector<ParamInfo> gptq = spec_params();
  gptq.push_back(p_bool("act_order", "process columns by descending diag(H)", [](Pass& p) -> bool& { return p.gptq.act_order; }));
  gptq.push_back(p_bool("static_groups", "with act_order: group scales fixed before the column loop",
                        [](Pass& p) -> bool& { return p.gptq.static_groups; }));
  gptq.push_back(p_float("damp", "H += damp * mean(diag H) * I", 0, 1, [](Pass& p) -> double& { return p.gptq.damp; }));
  gptq.push_back(p_int("block", "columns per lazy batch update", 1, 1 << 16, [](Pass& p) -> int& { return p.gptq.block; }));
  gptq.push_back(p_bool("importance", "ggml block types: choose each block's scales with diag(H) as the importance",
                        [](Pass& p) -> bool& { return p.gptq.importance; }));
  gptq.push_back(p_string("block_order",
                          "MXFP4, NVFP4, ggml block types: enter the scale blocks in natural order, or by descending "
                          "sum or max of diag(H) over the block (block-wise act-order)",
                          [](Pass& p) -> std::string& { return p.gptq_block_order; }));
  gptq.push_back(p_float("first_weight",
                         "weight of each calibration window's first token in H (the attention sink of models without "
                         "BOS; 0 leaves it out)",
                         0, 1e6, [](Pass& p) -> double& { return p.gptq_first_weight; }));
  r.push_back(PassInfo{"gptq", {}, PassScope::Solver,
                       "GPTQ (Frantar et al. 2022): column-wise quantization with Hessian error feedback (INT, MXFP4, "
                       "NVFP4 weights, ggml block types)",
                       std::move(gptq)});
  return r;
}

}  // namespace

const ParamInfo* PassInfo::find(const std::string& param) const {
  for (const ParamInfo& p : params)
    if (p.name == param) return &p;
  return nullptr;
}

const std::vector<PassInfo>& pass_registry() {
  static const std::vector<PassInfo> registry = build_registry();
  return registry;
}

const char* scope_name(PassScope s) {
  switch (s) {
    case PassScope::Model: return "model";
    case PassScope::Block: return "block";
    case PassScope::Branch: return "branch";
    case PassScope::Solver: return "solver";
  }
  return "?";
}

const PassInfo* find_pass(const std::string& name) {
  for (const PassInfo& p : pass_registry()) {
    if (p.name == name) return &p;
    for (const std::string& a : p.aliases)
      if (a == name) return &p;
  }
  return nullptr;
}

std::string pass_names() {
  std::vector<std::string> names;
  for (const PassInfo& p : pass_registry())
    names.push_back(p.aliases.empty() ? p.name : fmt::format("{} ({})", p.name, fmt::join(p.aliases, ", ")));
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string param_names(const PassInfo& info) {
  std::vector<std::string> names;
  for (const ParamInfo& p : info.params) names.push_back(p.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string param_value_str(const ParamValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>) return x.empty() ? "\"\"" : x;
        else return fmt::format("{}", x);
      },
      v);
}

static const char* type_name(ParamType t) {
  switch (t) {
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::Bool: return "bool";
    case ParamType::String: return "string";
  }
  return "?";
}

std::string recipe_help() {
  std::string s;
  for (const PassInfo& info : pass_registry()) {
    Pass defaults;
    const std::string aka = info.aliases.empty() ? "" : fmt::format(", alias {}", fmt::join(info.aliases, ", "));
    s += fmt::format("  {} ({} scope{}): {}\n", info.name, scope_name(info.scope), aka, info.help);
    for (const ParamInfo& p : info.params) {
      std::string range;
      if (p.type == ParamType::Int || p.type == ParamType::Float) range = fmt::format(" in [{}, {}]", p.min, p.max);
      s += fmt::format("      {:<14} {}{}, default {}: {}\n", p.name, type_name(p.type), range,
                       param_value_str(p.get(defaults)), p.help);
    }
  }
  return s;
}

void finalize_pass(Pass& p, const std::string& where) {
  const PassInfo* info = find_pass(p.name);
  HESSQ_CHECK(info != nullptr, "{}: unknown pass '{}'", where, p.name);
  if (p.name == "osaq") {
    HESSQ_CHECK(p.osaq_k_rule == "reach" || p.osaq_k_rule == "below", "{}: osaq: 'k_rule' must be reach or below, got '{}'",
                where, p.osaq_k_rule);
    p.osaq.k_rule = p.osaq_k_rule == "reach" ? methods::OsaqKRule::Reach : methods::OsaqKRule::Below;
  }
  if (p.name == "gptq") {
    const std::string& o = p.gptq_block_order;
    HESSQ_CHECK(o == "natural" || o == "sum" || o == "max", "{}: gptq: 'block_order' must be natural, sum or max, got '{}'",
                where, o);
    p.gptq.block_order = o == "sum"   ? methods::BlockOrder::DiagSum
                         : o == "max" ? methods::BlockOrder::DiagMax
                                      : methods::BlockOrder::Natural;
  }
  if (p.name == "spinquant") p.hero.opt = methods::spinquant_options(p.hero.opt);
  if (p.name == "svdquant" || p.name == "arhq" || p.name == "arhq-h")
    HESSQ_CHECK(p.branch.dtype == "f16" || p.branch.dtype == "f32", "{}: {}: 'dtype' must be f16 or f32, got '{}'", where,
                p.name, p.branch.dtype);
  if (info->scope != PassScope::Solver) return;
  if (!p.format.empty()) {
    const bool clip = p.spec.clip_search;
    p.spec = formats::parse_spec(p.format);
    p.spec.clip_search = p.spec.clip_search || clip;
    return;
  }
  p.spec.format = formats::Format::Int;
  p.spec.granularity = p.spec.group > 0 ? formats::Granularity::PerGroup : formats::Granularity::PerChannel;
}

}  // namespace hessq::pipeline

namespace hessq::pipeline {

std::string expected_str(const ParamInfo& pi) {
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

}  // namespace hessq::pipeline
