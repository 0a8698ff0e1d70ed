// W4A4 YAML recipes: the same configuration as the --method flags, and errors naming line and key.
#include <gtest/gtest.h>

#include "hessq/core/error.hpp"
#include "hessq/pipeline/w4a4_recipe.hpp"

namespace hessq::pipeline {

namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_w4a4_recipe(yaml, "r.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(W4a4Recipe, MatchesTheMethodFlags) {
  const std::string yaml =
      "format: int4\n"
      "passes:\n"
      "  - quarot: {seed: 7}\n"
      "  - smooth\n"
      "  - arhq: {rank: 8, alloc: true, eps: 1e-5, dtype: f32}\n"
      "  - gptq: {act_order: true, damp: 0.05}\n";
  ASSERT_TRUE(is_w4a4_recipe(yaml));
  const W4a4Config c = parse_w4a4_recipe(yaml, "r.yaml");
  W4a4Config f = w4a4_config_for_method("rotate+smoothquant+arhq+gptq", "int4", 8, false);
  f.rotate_opt.seed = 7;
  f.allocate = true;
  f.eps = 1e-5;
  f.lowrank_storage = methods::LowRankStorage::F32;
  f.gptq.act_order = true;
  f.gptq.damp = 0.05;
  EXPECT_EQ(c.to_json(), f.to_json());
}

TEST(W4a4Recipe, WeightOnlyRecipesAreNotW4a4) {
  EXPECT_FALSE(is_w4a4_recipe("passes:\n  - gptq: {bits: 4}\n"));
  EXPECT_FALSE(is_w4a4_recipe("- rtn: {bits: 4}\n"));
}

TEST(W4a4Recipe, ErrorsNameTheLineAndKey) {
  EXPECT_NE(error_of("format: nvfp4\npasses:\n  - arhq: {rank: 8, rnak: 4}\n")
                .find("r.yaml:3: arhq: unknown parameter 'rnak' (accepted: rank, alloc, dtype, eps, eps_abs)"),
            std::string::npos);
  EXPECT_NE(error_of("format: nvfp4\npasses:\n  - arhq:\n      rank: -2\n").find("r.yaml:4: 'rank' must be"),
            std::string::npos);
  EXPECT_NE(error_of("format: nvfp4\nbits: 4\npasses: [rtn]\n").find("r.yaml:2: unknown W4A4 recipe key 'bits'"),
            std::string::npos);
  EXPECT_NE(error_of("format: nvfp4\npasses: [rtn, gtpq]\n").find("unknown W4A4 stage 'gtpq'"), std::string::npos);
  EXPECT_NE(error_of("format: nvfp9\npasses: [rtn]\n").find("unknown format 'nvfp9'"), std::string::npos);
  EXPECT_NE(error_of("format: nvfp4\npasses:\n  - gptq: {damp: high}\n").find("r.yaml:3: 'damp' must be a number"),
            std::string::npos);
}

}  // namespace hessq::pipeline
