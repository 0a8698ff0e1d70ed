// HeRo-Q and SpinQuant as model-scope passes (pipeline/hero_pass.hpp): the registry rows and the
// recipes they compose into (and the ones refused), the float transform through the pipeline's own
// path (ModelTransform::apply_layer / final_tensors) leaving stories260K's logits unchanged, and
// hero+gptq end to end: quantized, saved, reloaded with identical logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/eval/perplexity.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/linalg/stiefel.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/pipeline/hero_pass.hpp"
#include "hessq/pipeline/model_transform.hpp"
#include "pipeline/pipeline_util.hpp"
#include "pipeline/stories_fixture.hpp"

namespace hessq::pipeline {

using test::logits_of;
using test::Stories;

namespace {

std::string method_error(const std::string& method) {
  try {
    validate_recipe(recipe_for_method(method));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string yaml_error(const std::string& yaml) {
  try {
    parse_recipe(yaml, "r.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

ModelPassOptions quiet() {
  ModelPassOptions o;
  o.progress = false;
  return o;
}

// A hero / spinquant recipe with few steps (tests stay fast), W3 g32 weights.
Recipe few_steps(const std::string& method, int steps = 8) {
  Recipe r = test::recipe(method, "", 0, false, "int3-asym-g32");
  set_param(r.passes[0], "steps", ParamValue(int64_t{steps}), "test");
  finalize_pass(r.passes[0], "test");
  return r;
}

// The float model `t` makes of m, built the way the driver builds the quantized one: each block
// through apply_layer, the embedding / norm / head from final_tensors.
model::Model transformed(const model::Model& m, const ModelTransform& t) {
  const io::TensorStore src = io::tensor_store_of(m);
  ModelSink sink(m.cfg);
  for (int l = 0; l < m.cfg.n_layers; ++l) {
    model::LayerWeights L = src.layer(l);
    t.apply_layer(L, l);
    sink.put_block(l, L, {});
  }
  model::ModelConfig cfg;
  const std::vector<io::StoredTensor> tensors = t.final_tensors(src, cfg);
  sink.put_tensors(cfg, tensors);
  sink.model.source = m.source;
  return std::move(sink.model);
}

}  // namespace

TEST(HeroPass, RegistryRows) {
  const PassInfo* h = find_pass("hero");
  const PassInfo* s = find_pass("spinquant");
  ASSERT_NE(h, nullptr);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(h->scope, PassScope::Model);
  EXPECT_EQ(s->scope, PassScope::Model);
  for (const char* k : {"steps", "lr_rotation", "lr_scale", "rho", "seed", "max_rows", "every", "v_o", "online_down"})
    EXPECT_NE(h->find(k), nullptr) << k;
  EXPECT_EQ(s->find("rho"), nullptr);  // spinquant: rho = 0, d = 1 by definition
  EXPECT_EQ(s->find("lr_scale"), nullptr);
  const Recipe sq = recipe_for_method("spinquant+gptq");
  EXPECT_EQ(sq.passes[0].hero.opt.rho, 0.0);
  EXPECT_FALSE(sq.passes[0].hero.opt.learn_scales);
  const Recipe hq = recipe_for_method("hero+rtn");
  EXPECT_EQ(hq.passes[0].hero.opt.rho, methods::HeroOptions{}.rho);
  EXPECT_TRUE(hq.passes[0].hero.opt.learn_scales);
  EXPECT_EQ(hq.method, "hero+rtn");
}

TEST(HeroPass, RecipesComposeAndRotationsDoNotStack) {
  for (const char* m : {"hero+gptq", "hero+rtn", "spinquant+gptq", "hero+osaq+gptq", "hero+awq+rtn"})
    EXPECT_EQ(method_error(m), "") << m;
  const Recipe r = parse_recipe(
      "passes:\n  - hero: {steps: 5, rho: 0.01, every: 2, max_rows: 32}\n  - osaq\n  - gptq: {bits: 3, group: 32}\n",
      "r.yaml");
  EXPECT_EQ(r.method, "hero+osaq+gptq");
  EXPECT_EQ(r.passes[0].hero.opt.steps, 5);
  EXPECT_EQ(r.passes[0].hero.every, 2);
  EXPECT_EQ(r.to_json()["passes"][0]["hero"]["max_rows"], 32);
  EXPECT_EQ(yaml_error("format: nvfp4\npasses:\n  - hero\n  - arhq: {rank: 4}\n  - gptq\n"), "");

  std::string e = method_error("quarot+hero+gptq");
  EXPECT_NE(e.find("'rotate' and 'hero' both rotate the residual stream; one model-scope rotation per recipe"),
            std::string::npos)
      << e;
  e = method_error("hero+spinquant+gptq");
  EXPECT_NE(e.find("'hero' and 'spinquant' both rotate the residual stream"), std::string::npos) << e;
  e = yaml_error("passes:\n  - spinquant\n  - rotate\n  - gptq\n");
  EXPECT_NE(e.find("r.yaml:3: 'spinquant' and 'rotate' both rotate the residual stream"), std::string::npos) << e;
  e = method_error("osaq+hero+gptq");
  EXPECT_NE(e.find("'hero' is a model-scope pass and must come before the block-scope pass 'osaq'"), std::string::npos)
      << e;
  e = yaml_error("passes:\n  - hero: {steps: 0}\n");
  EXPECT_NE(e.find("r.yaml:2: hero: 'steps' must be an integer in [1, 1000000], got 0"), std::string::npos) << e;
  e = yaml_error("passes:\n  - spinquant: {rho: 0.1}\n");
  EXPECT_NE(e.find("spinquant: unknown parameter 'rho'"), std::string::npos) << e;
}

// The learned R and d through the pipeline's own fold: logits unchanged. Tolerance: issue 12's 1e-4,
// relative to the largest logit (the fold is a sequence of fp32 GEMMs over 64-wide inputs with
// weights rewritten in fp32 from double products; a missing or wrong fold errs by O(1)).
TEST(HeroPass, FloatLogitsUnchangedByTheTransform) {
  constexpr double kFloatEquivRelTol = 1e-4;
  Stories s;
  const std::vector<int> tokens = s.tok->encode("Once upon a time, there was a big dog. The dog was happy.", true);
  const std::vector<float> ref = logits_of(s.m, tokens);
  const float scale = std::max(1.0f, *std::max_element(ref.begin(), ref.end(), [](float a, float b) {
    return std::abs(a) < std::abs(b);
  }));
  const io::TensorStore src = io::tensor_store_of(s.m);
  for (const char* method : {"hero+gptq", "spinquant+gptq"}) {
    SCOPED_TRACE(method);
    const Recipe r = few_steps(method);
    int64_t forwards = 0;
    const ModelTransform t = make_model_transform(src, r, s.windows(), quiet(), forwards);
    EXPECT_EQ(forwards, hero_pass_forwards(1, s.m.cfg.n_layers, 4));
    ASSERT_TRUE(t.active());
    EXPECT_EQ(t.rotation["residual"]["kind"], "custom");
    const auto& curve = t.hero["curve"]["objective"];
    ASSERT_EQ(curve.size(), 9u);
    EXPECT_LT(curve[t.hero["best_step"].get<int>()].get<double>(), curve[0].get<double>());  // it learned something
    const bool hero = std::string(method) == "hero+gptq";
    EXPECT_EQ(t.d_attn[0].has_value(), hero);
    // Both learn the per-head v -> o rotation of every block, from QuaRot's Hadamard.
    ASSERT_EQ(t.rot->Hh_layer.size(), 5u);
    ASSERT_EQ(t.hero["heads"].size(), 5u);
    for (int l = 0; l < 5; ++l) {
      ASSERT_TRUE(t.rot->Hh_layer[l].has_value()) << l;
      EXPECT_GT((t.rot->Hh_layer[l]->dense() - t.rot->Hh->dense()).norm(), 1e-3) << l;
      EXPECT_LE(linalg::orthogonality_error(t.rot->Hh_layer[l]->dense()), 1e-10) << l;
    }
    const model::Model m = transformed(s.m, t);
    if (hero) {  // the norms hold 1/d, not ones
      const float* w = m.layers[2].attn_norm.ptr();
      EXPECT_FALSE(std::all_of(w, w + s.m.cfg.dim, [](float v) { return v == 1.0f; }));
    }
    EXPECT_NE(dynamic_cast<const model::HadamardLinear*>(m.layers[0].down.get()), nullptr);  // online_down kept
    const std::vector<float> got = logits_of(m, tokens);
    double err = 0;
    for (size_t i = 0; i < ref.size(); ++i) err = std::max(err, std::abs(static_cast<double>(got[i]) - ref[i]));
    EXPECT_LE(err, kFloatEquivRelTol * scale);
  }
}

// every = 2: blocks 0, 2, 4 are in the objective and get d; 1 and 3 keep d = 1.
TEST(HeroPass, EverySelectsBlocks) {
  Stories s;
  Recipe r = few_steps("hero+rtn", 3);
  set_param(r.passes[0], "every", ParamValue(int64_t{2}), "test");
  int64_t forwards = 0;
  const ModelTransform t = make_model_transform(io::tensor_store_of(s.m), r, s.windows(), quiet(), forwards);
  EXPECT_EQ(t.hero["blocks"], nlohmann::ordered_json::parse("[0, 2, 4]"));
  EXPECT_EQ(forwards, (3 + 4) * 4);  // statistics in 3 blocks, advancing through 0..3, 4 windows
  EXPECT_EQ(forwards, hero_pass_forwards(2, 5, 4));
  for (int l = 0; l < 5; ++l) {
    EXPECT_EQ(t.d_attn[l].has_value(), l % 2 == 0) << l;
    EXPECT_EQ(t.d_ffn[l].has_value(), l % 2 == 0) << l;
  }
  EXPECT_EQ(t.hero["linears"].size(), 3u * 5u);  // q/k/v + gate/up per selected block
  for (int l = 0; l < 5; ++l) EXPECT_EQ(t.rot->Hh_layer[l].has_value(), l % 2 == 0) << l;  // learned heads
  // heads = 0: QuaRot's fixed Hadamard in every block.
  set_param(r.passes[0], "heads", ParamValue(false), "test");
  const ModelTransform t0 = make_model_transform(io::tensor_store_of(s.m), r, s.windows(), quiet(), forwards);
  EXPECT_TRUE(t0.rot->Hh_layer.empty());
  EXPECT_EQ(t0.hero["heads"].size(), 0u);
}

// hero+gptq end to end: the quantized model is saved, reloads with bit-identical logits, and its
// perplexity is that of a sane W3 quantization; the run's block forwards include the pre-pass.
TEST(HeroPass, HeroGptqSavesAndReloads) {
  Stories s;
  const Recipe r = few_steps("hero+gptq", 5);
  const calib::Windows w = s.windows();
  const test::Run run = test::run_pipeline(s.m, r, w);
  EXPECT_EQ(run.report.block_forwards, expected_block_forwards(r, s.m.cfg.n_layers, 4, 2));
  ASSERT_TRUE(run.report.hero.is_object());
  EXPECT_EQ(run.report.hero["linears"].size(), 25u);
  EXPECT_TRUE(run.report.timing["hero"].contains("optimize_s"));
  const std::string dir = (test::scratch_dir() / "hero.hessq").string();
  io::HessqMeta meta;
  meta.recipe = r.to_json();
  io::write_hessq(dir, run.model, meta, run.diagnostics);
  const model::Model back = io::load_hessq_model(dir);
  const std::vector<int> tokens = s.tok->encode("Once upon a time, there was a little girl named Lily.", true);
  EXPECT_EQ(logits_of(back, tokens), logits_of(run.model, tokens));

  std::string text = eval::read_text(test::shared_path("data/tinystories/tinystories_validation_head.txt"));
  const std::vector<int> stream = s.tok->encode(text.substr(100000, 6000), true);
  eval::PerplexityOptions po;
  po.ctx = 256;
  po.progress = false;
  const double pf = eval::perplexity(s.m, stream, po).ppl;
  const double pq = eval::perplexity(back, stream, po).ppl;
  EXPECT_GT(pq, pf);       // W3 costs something
  EXPECT_LT(pq, 3 * pf);   // bounds wide enough for any sane W3 g32 quantizer on this model
}

// The compositions issue 12 names run end to end: hero -> osaq -> gptq (weight-only) and
// hero -> arhq -> gptq (W4A4 NVFP4, rank 4).
TEST(HeroPass, ComposedRecipesRun) {
  Stories s;
  Recipe osaq = few_steps("hero+osaq+gptq", 3);
  Recipe arhq = test::recipe("hero+arhq+gptq", "nvfp4", 4);
  set_param(arhq.passes[0], "steps", ParamValue(int64_t{3}), "test");
  for (const Recipe* r : {&osaq, &arhq}) {
    SCOPED_TRACE(r->describe());
    const test::Run run = test::run_pipeline(s.m, *r, s.windows());
    EXPECT_EQ(run.diagnostics.size(), 35u);
    EXPECT_EQ(run.report.hero["curve"]["objective"].size(), 4u);
    const std::vector<int> tokens = s.tok->encode("Once upon a time", true);
    for (float v : logits_of(run.model, tokens)) ASSERT_TRUE(std::isfinite(v));
  }
}

}  // namespace hessq::pipeline
