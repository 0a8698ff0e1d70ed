#include "hessq/pipeline/ggml_plan.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_presets.hpp"
#include "hessq/formats/ggml_types.hpp"
#include "hessq/model/layout.hpp"

namespace hessq::pipeline {

namespace {

formats::GgmlRole role_of(model::Proj p) {
  using R = formats::GgmlRole;
  switch (p) {
    case model::Proj::Q: return R::AttnQ;
    case model::Proj::K: return R::AttnK;
    case model::Proj::V: return R::AttnV;
    case model::Proj::O: return R::AttnOutput;
    case model::Proj::Gate: return R::FfnGate;
    case model::Proj::Up: return R::FfnUp;
    case model::Proj::Down: return R::FfnDown;
  }
  HESSQ_FAIL("unknown projection");
}

// The hessq spec of a ggml type ("q4_k"); nullopt for F16 (the tensor stays float).
std::optional<formats::QuantSpec> spec_of(formats::GgmlType t) {
  if (t == formats::GgmlType::kF16) return std::nullopt;
  std::string name = formats::ggml_type_name(formats::ggml_id(t));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return formats::parse_spec(name);
}

}  // namespace

std::string canonical_ggml_preset(const std::string& preset) {
  std::string up = preset;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  HESSQ_CHECK(formats::is_ggml_preset(up), "--ggml-type {}: unknown llama-quantize type (known: {})", preset,
              fmt::join(formats::ggml_preset_names(), ", "));
  return up;
}

GgmlPlan ggml_plan(const std::string& preset, const model::ModelConfig& cfg) {
  GgmlPlan plan;
  plan.preset = canonical_ggml_preset(preset);
  const int L = cfg.n_layers, n_gqa = cfg.n_heads / cfg.n_kv_heads;
  const bool tied = cfg.tie_embeddings;
  plan.linears.resize(static_cast<size_t>(L));
  for (int l = 0; l < L; ++l)
    for (model::Proj p : model::kAllProjs) {
      const int64_t n = model::proj_shape(cfg, p).second;
      plan.linears[l][model::proj_index(p)] =
          spec_of(formats::ggml_preset_type(plan.preset, role_of(p), l, L, n, n_gqa, tied));
    }
  plan.embedding = spec_of(formats::ggml_preset_type(plan.preset, formats::GgmlRole::TokenEmbd, 0, L, cfg.dim, n_gqa, tied));
  if (!tied) plan.head = spec_of(formats::ggml_preset_type(plan.preset, formats::GgmlRole::Output, 0, L, cfg.dim, n_gqa, false));
  return plan;
}

void check_gguf_storable(const Recipe& r, const std::string& what) {
  const std::string why = fmt::format("{}: a GGUF file holds plain quantized weights", what);
  HESSQ_CHECK(!r.act, "{}; the activation format {} would need llama.cpp to quantize activations as hessq does", why,
              r.act->name());
  HESSQ_CHECK(r.branch() == nullptr, "{}; {}'s low-rank branch has no place in it (use rtn, gptq, awq or osaq)", why,
              r.branch()->name);
  HESSQ_CHECK(!r.find("smoothquant"), "{}; smoothquant divides each linear's input at run time", why);
  const Pass* model_pass = r.of_scope(PassScope::Model);
  HESSQ_CHECK(model_pass == nullptr, "{}; {} leaves a rotation that runs online before down_proj", why,
              model_pass->name);
  HESSQ_CHECK(!r.linear_specs.empty() || r.weight_spec().format == formats::Format::Ggml,
              "{}, in ggml's types; the weight format {} is not one (use --ggml-type Q4_K_M, Q4_0, ... or --wformat "
              "q4_0, q4_k, ...)",
              why, r.weight_spec().name());
}

void apply_ggml_plan(Recipe& r, const GgmlPlan& plan) {
  r.passes.back().spec = *spec_of(formats::ggml_preset_base(plan.preset));
  r.linear_specs = plan.linears;
  r.ggml_preset = plan.preset;
  check_gguf_storable(r, "--ggml-type " + plan.preset);
}

}  // namespace hessq::pipeline
