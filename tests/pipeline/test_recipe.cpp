// Recipe parsing: the registry's parameters, defaults and ranges, and errors that name the file,
// the line and the key.
#include <gtest/gtest.h>

#include "hessq/core/error.hpp"
#include "hessq/pipeline/recipe.hpp"

namespace hessq::pipeline {

// The message of the hessq::Error thrown by parsing `yaml`, or "" if it parses.
static std::string parse_error(const std::string& yaml) {
  try {
    parse_recipe(yaml, "r.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Recipe, ParsesPassesWithParametersAndDefaults) {
  const Recipe r = parse_recipe(
      "sequential: false\n"
      "passes:\n"
      "  - osaq: {gamma: 1e-3, tau: 0.2}\n"
      "  - gptq: {bits: 3, group: 64, act_order: true, sym: true}\n",
      "r.yaml");
  ASSERT_EQ(r.passes.size(), 2u);
  EXPECT_FALSE(r.sequential);
  EXPECT_EQ(r.passes[0].name, "osaq");
  EXPECT_EQ(r.passes[0].line, 3);
  EXPECT_DOUBLE_EQ(r.passes[0].osaq.gamma, 1e-3);
  EXPECT_DOUBLE_EQ(r.passes[0].osaq.tau, 0.2);
  EXPECT_DOUBLE_EQ(r.passes[0].osaq.mu1, methods::OsaqOptions{}.mu1);  // default kept
  const Pass& g = r.solver();
  EXPECT_EQ(g.name, "gptq");
  EXPECT_EQ(g.spec.bits, 3);
  EXPECT_EQ(g.spec.group, 64);
  EXPECT_EQ(g.spec.granularity, formats::Granularity::PerGroup);
  EXPECT_TRUE(g.spec.symmetric);
  EXPECT_TRUE(g.gptq.act_order);
  EXPECT_DOUBLE_EQ(g.gptq.damp, methods::GptqOptions{}.damp);
  const auto j = r.to_json();
  EXPECT_EQ(j["passes"][1]["gptq"]["resolved_format"], "int3-g64");
  EXPECT_EQ(j["passes"][0]["osaq"]["gamma"], 1e-3);
}

TEST(Recipe, BareListAndDefaultSpec) {
  const Recipe r = parse_recipe("- awq\n- rtn: {bits: 2}\n", "r.yaml");
  ASSERT_EQ(r.passes.size(), 2u);
  EXPECT_TRUE(r.sequential);
  EXPECT_EQ(r.solver().spec.granularity, formats::Granularity::PerChannel);  // group 0 = per channel
  EXPECT_FALSE(r.solver().spec.symmetric);                                  // asymmetric by default
  EXPECT_EQ(r.solver().spec.name(), "int2-asym");
  EXPECT_EQ(r.passes[0].awq.grid, 20);
}

TEST(Recipe, ErrorsNameLineAndKey) {
  std::string e = parse_error("passes:\n  - osaq: {}\n  - gtpq: {bits: 4}\n");
  EXPECT_NE(e.find("r.yaml:3: unknown pass 'gtpq'"), std::string::npos) << e;
  EXPECT_NE(e.find("known: rotate (quarot), hero, spinquant, smoothquant (smooth), awq, osaq, svdquant, arhq, arhq-h, rtn, gptq"),
            std::string::npos)
      << e;

  // Fuzz finding (fuzz_recipe): a key that is not a scalar (here a tagged map) escaped as a yaml-cpp
  // exception instead of an error naming the recipe.
  e = parse_error("!tag {}:\n  - osaq: {}\n");
  EXPECT_NE(e.find("r.yaml:1: bad conversion"), std::string::npos) << e;

  e = parse_error("passes:\n  - gptq:\n      bits: 4\n      bitz: 3\n");
  EXPECT_NE(e.find("r.yaml:4: gptq: unknown parameter 'bitz'"), std::string::npos) << e;
  EXPECT_NE(e.find("accepted: bits, group"), std::string::npos) << e;

  e = parse_error("passes:\n  - rtn: {bits: 9}\n");
  EXPECT_NE(e.find("r.yaml:2: rtn: 'bits' must be an integer in [2, 8], got 9"), std::string::npos) << e;
  e = parse_error("passes:\n  - rtn: {bits: 1}\n");
  EXPECT_NE(e.find("'bits' must be an integer in [2, 8], got 1"), std::string::npos) << e;
  e = parse_error("passes:\n  - rtn: {bits: four}\n");
  EXPECT_NE(e.find("r.yaml:2: rtn: 'bits' must be an integer in [2, 8], got 'four'"), std::string::npos) << e;
  e = parse_error("passes:\n  - osaq: {gamma: -1}\n  - rtn\n");
  EXPECT_NE(e.find("r.yaml:2: osaq: 'gamma' must be a number in"), std::string::npos) << e;
  e = parse_error("passes:\n  - gptq: {act_order: maybe}\n");
  EXPECT_NE(e.find("'act_order' must be true or false, got 'maybe'"), std::string::npos) << e;
  e = parse_error("passes:\n  - osaq: {k_rule: sideways}\n  - rtn\n");
  EXPECT_NE(e.find("'k_rule' must be reach or below"), std::string::npos) << e;
}

TEST(Recipe, StructureErrors) {
  EXPECT_EQ(parse_recipe("passes:\n  - osaq: {}\n", "r.yaml").method, "osaq+rtn");  // rtn when no solver is named
  EXPECT_NE(parse_error("passes:\n  - rtn\n  - awq\n").find("r.yaml:2: solver 'rtn' must be the last pass"),
            std::string::npos);
  EXPECT_NE(parse_error("passes:\n  - osaq\n  - osaq\n  - rtn\n").find("r.yaml:3: pass 'osaq' appears twice"),
            std::string::npos);
  EXPECT_NE(parse_error("passes: []\n").find("'passes' must be a non-empty list"), std::string::npos);
  EXPECT_NE(parse_error("pases:\n  - rtn\n").find("r.yaml:1: unknown recipe key 'pases'"), std::string::npos);
  EXPECT_NE(parse_error("passes: [rtn\n").find("r.yaml:"), std::string::npos);  // YAML syntax error, with a line
  EXPECT_NE(parse_error("passes: [rtn\n").find("YAML syntax error"), std::string::npos);
}

TEST(Recipe, MethodsFromFlags) {
  auto names = [](const Recipe& r) {
    std::string s;
    for (const Pass& p : r.passes) s += (s.empty() ? "" : ",") + p.name;
    return s;
  };
  EXPECT_EQ(names(recipe_for_method("gptq")), "gptq");
  EXPECT_EQ(names(recipe_for_method("awq")), "awq,rtn");
  EXPECT_EQ(names(recipe_for_method("osaq+awq")), "osaq,awq,rtn");
  EXPECT_EQ(names(recipe_for_method("osaq+gptq")), "osaq,gptq");
  EXPECT_THROW(recipe_for_method("fancy"), Error);
  EXPECT_EQ(names(recipe_for_method("osaq")), "osaq,rtn");
  EXPECT_EQ(names(recipe_for_method("quarot+smooth+arhq+gptq")), "rotate,smoothquant,arhq,gptq");  // aliases
  EXPECT_THROW(recipe_for_method("gptq+osaq"), Error);                                           // solver not last

  Pass p = recipe_for_method("rtn").passes[0];
  try {
    set_param(p, "bits", ParamValue(int64_t{9}), "--bits");
    FAIL() << "bits 9 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--bits: rtn: 'bits' must be an integer in [2, 8], got 9"), std::string::npos)
        << e.what();
  }
}

TEST(Recipe, HelpListsEveryPassAndParameter) {
  const std::string h = recipe_help();
  for (const PassInfo& info : pass_registry()) {
    EXPECT_NE(h.find("  " + info.name + " ("), std::string::npos) << info.name;
    for (const ParamInfo& p : info.params) EXPECT_NE(h.find(p.name), std::string::npos) << info.name << "." << p.name;
  }
}

// One dialect: a recipe with a layer format (W4A4) sets the same passes and formats as --method and
// --format with the same options.
TEST(Recipe, FormatsAndStagesMatchTheMethodFlags) {
  const Recipe r = parse_recipe(
      "format: int4\n"
      "passes:\n"
      "  - quarot: {seed: 7}\n"
      "  - smooth\n"
      "  - arhq: {rank: 8, alloc: true, eps: 1e-5, dtype: f32}\n"
      "  - gptq: {act_order: true, damp: 0.05}\n",
      "r.yaml");
  Recipe f = recipe_for_method("rotate+smoothquant+arhq+gptq");
  set_param(f.passes[0], "seed", ParamValue(int64_t{7}), "t");
  set_param(f.passes[2], "rank", ParamValue(int64_t{8}), "t");
  set_param(f.passes[2], "alloc", ParamValue(true), "t");
  set_param(f.passes[2], "eps", ParamValue(1e-5), "t");
  set_param(f.passes[2], "dtype", ParamValue(std::string("f32")), "t");
  set_param(f.passes[3], "act_order", ParamValue(true), "t");
  set_param(f.passes[3], "damp", ParamValue(0.05), "t");
  set_formats(f, "int4", "", "", "t");
  validate_recipe(f);
  nlohmann::ordered_json a = r.to_json(), b = f.to_json();
  a.erase("source");
  b.erase("source");
  EXPECT_EQ(a, b);
  ASSERT_TRUE(r.act.has_value());
  EXPECT_EQ(r.act->name(), "int4-tok");
  EXPECT_EQ(r.weight_spec().name(), "int4-g32");
}

TEST(Recipe, WeightAndActivationFormatsCompose) {
  const Recipe w4a8 = parse_recipe("wformat: int4-g128\naformat: int8-tok\npasses: [gptq]\n", "r.yaml");
  EXPECT_EQ(w4a8.weight_spec().name(), "int4-g128");
  EXPECT_EQ(w4a8.act->name(), "int8-tok");
  const Recipe wonly = parse_recipe("passes: [quarot, {gptq: {bits: 3, group: 64}}]\n", "r.yaml");
  EXPECT_FALSE(wonly.act.has_value());  // weight-only QuaRot
  EXPECT_EQ(wonly.method, "rotate+gptq");
  const Recipe nv = parse_recipe("passes: [{gptq: {format: nvfp4}}]\n", "r.yaml");  // weight-only NVFP4 GPTQ
  EXPECT_EQ(nv.weight_spec().name(), "nvfp4");
}

TEST(Recipe, CombinationsThatMakeNoSenseAreRefusedWithAReason) {
  EXPECT_NE(parse_error("passes: [{arhq: {rank: 8}}, {gptq: {bits: 4}}]\n").find("needs an activation format"),
            std::string::npos);
  EXPECT_NE(parse_error("format: nvfp4\npasses: [svdquant, arhq, rtn]\n").find("two low-rank branches"),
            std::string::npos);
  EXPECT_NE(parse_error("passes: [osaq, quarot, {rtn: {bits: 4}}]\n")
                .find("'rotate' is a model-scope pass and must come before the block-scope pass 'osaq'"),
            std::string::npos);
  EXPECT_NE(parse_error("format: nvfp4\npasses: [{gptq: {bits: 4}}]\n").find("the weight format is given twice"),
            std::string::npos);
  EXPECT_NE(parse_error("format: nvfp4-2d\npasses: [gptq]\n").find("gptq supports INT, MXFP4, NVFP4 (1x16) and ggml block"),
            std::string::npos);
  EXPECT_NE(parse_error("format: nvfp4\npasses: [{svdquant: {refine: 2}}, rtn]\n").find("unknown parameter 'refine'"),
            std::string::npos);  // refinement works in ARHQ's metric: an arhq parameter only
}

TEST(Recipe, W4a4ErrorsNameTheLineAndKey) {
  std::string e = parse_error("format: nvfp4\npasses:\n  - arhq: {rank: 8, rnak: 4}\n");
  EXPECT_NE(e.find("r.yaml:3: arhq: unknown parameter 'rnak' (accepted: rank, alloc, dtype, rsvd, eps, eps_abs"),
            std::string::npos)
      << e;
  e = parse_error("format: nvfp4\npasses:\n  - arhq:\n      rank: -2\n");
  EXPECT_NE(e.find("r.yaml:4: arhq: 'rank' must be an integer in"), std::string::npos) << e;
  e = parse_error("format: nvfp4\nbits: 4\npasses: [rtn]\n");
  EXPECT_NE(e.find("r.yaml:2: unknown recipe key 'bits'"), std::string::npos) << e;
  e = parse_error("format: nvfp9\npasses: [rtn]\n");
  EXPECT_NE(e.find("nvfp9"), std::string::npos) << e;
  e = parse_error("format: nvfp4\npasses:\n  - gptq: {damp: high}\n");
  EXPECT_NE(e.find("r.yaml:3: gptq: 'damp' must be a number"), std::string::npos) << e;
}

}  // namespace hessq::pipeline
