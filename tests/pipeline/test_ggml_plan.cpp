// quantize --ggml-type: the per-tensor types of a preset for a whole model, against the counts
// llama-quantize reports for Llama-3-8B Q4_K_M ("type q4_K: 193 tensors, type q6_K: 33 tensors", the
// loader's summary of every published Q4_K_M file of that model: 32 x 7 linears, token_embd and
// output), and the recipes a GGUF file cannot hold.
#include <gtest/gtest.h>

#include <map>

#include "hessq/model/layout.hpp"
#include "hessq/model/synth.hpp"
#include "hessq/pipeline/ggml_plan.hpp"
#include "test_util.hpp"

namespace hessq::pipeline {
namespace {

std::map<std::string, int> type_counts(const GgmlPlan& plan) {
  std::map<std::string, int> n;
  for (const auto& layer : plan.linears)
    for (const auto& s : layer) ++n[s ? s->name() : "f16"];
  for (const auto* s : {&plan.embedding, &plan.head})
    if (*s) ++n[(*s)->name()];
  return n;
}

TEST(GgmlPlan, Llama3_8BQ4KMAsLlamaQuantizeReportsIt) {
  const model::ModelConfig cfg = model::synth_config("llama-3-8b", 32);
  const GgmlPlan plan = ggml_plan("q4_k_m", cfg);
  EXPECT_EQ(plan.preset, "Q4_K_M");
  const std::map<std::string, int> want = {{"q4_k", 193}, {"q6_k", 33}};
  EXPECT_EQ(type_counts(plan), want);
  // use_more_bits(0, 32): layer 0 has Q6_K attn_v and ffn_down; layer 4 does not, layer 6 does.
  auto at = [&](int l, model::Proj p) { return plan.linears[l][model::proj_index(p)]->name(); };
  EXPECT_EQ(at(0, model::Proj::V), "q6_k");
  EXPECT_EQ(at(4, model::Proj::V), "q4_k");
  EXPECT_EQ(at(6, model::Proj::Down), "q6_k");
  EXPECT_EQ(at(6, model::Proj::Q), "q4_k");
  EXPECT_EQ(plan.head->name(), "q6_k");
}

TEST(GgmlPlan, FallbacksOnStories260K) {
  // dim 64 and hidden 172 fill no 256-block: Q5_0 for the 64-wide rows, F16 (kept float) for the
  // 172-wide down_proj, Q8_0 for attn_v where use_more_bits (layers 2 and 4 of 5) and for the tied
  // embedding (Q6_K -> Q8_0).
  model::ModelConfig cfg = model::synth_config("llama-3-8b", 5);
  cfg.dim = 64, cfg.hidden_dim = 172, cfg.n_heads = 8, cfg.n_kv_heads = 4, cfg.head_dim = 8, cfg.vocab_size = 512;
  cfg.tie_embeddings = true;
  const GgmlPlan plan = ggml_plan("Q4_K_M", cfg);
  const std::map<std::string, int> want = {{"f16", 5}, {"q5_0", 28}, {"q8_0", 3}};
  EXPECT_EQ(type_counts(plan), want);
  EXPECT_FALSE(plan.linears[0][model::proj_index(model::Proj::Down)].has_value());
  EXPECT_EQ(plan.linears[2][model::proj_index(model::Proj::V)]->name(), "q8_0");
  EXPECT_FALSE(plan.head.has_value());  // tied: the embedding serves
}

TEST(GgmlPlan, RefusesWhatGgufCannotHold) {
  const model::ModelConfig cfg = model::synth_config("llama-3-8b", 2);
  const GgmlPlan plan = ggml_plan("Q4_K_M", cfg);
  auto refused = [&](const std::string& method, const std::string& aformat, const std::string& want) {
    Recipe r = recipe_for_method(method);
    set_formats(r, "", "int4-g128", aformat, "test");
    const std::string err = test::error_of([&] { apply_ggml_plan(r, plan); });
    EXPECT_NE(err.find(want), std::string::npos) << method << ": " << err;
  };
  refused("quarot+gptq", "", "rotate leaves a rotation that runs online before down_proj");
  refused("smoothquant+gptq", "int8-tok", "activation format int8-tok");
  refused("svdquant+gptq", "", "svdquant's low-rank branch");
  Recipe ok = recipe_for_method("osaq+gptq");
  apply_ggml_plan(ok, plan);
  EXPECT_EQ(ok.weight_spec().name(), "q4_k");
  ASSERT_TRUE(ok.solver_for(1, model::Proj::V).has_value());  // use_more_bits(1, 2): the last eighth
  EXPECT_EQ(ok.solver_for(1, model::Proj::V)->spec.name(), "q6_k");
  check_recipe_fits(ok, cfg);
  Recipe plain = recipe_for_method("gptq");
  set_formats(plain, "", "int4-g128", "", "test");
  const std::string err = test::error_of([&] { check_gguf_storable(plain, "--out m.gguf"); });
  EXPECT_NE(err.find("the weight format int4-g128 is not one"), std::string::npos) << err;
  EXPECT_NE(test::error_of([] { canonical_ggml_preset("Q4_K_Z"); }).find("known: Q4_0"), std::string::npos);
}

}  // namespace
}  // namespace hessq::pipeline
