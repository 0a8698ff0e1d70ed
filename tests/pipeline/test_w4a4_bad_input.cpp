// Bad recipes and formats for a model: every error is raised before any calibration and names what
// is wrong (the option, the linear, the dimension and what was expected).
#include <gtest/gtest.h>

#include <string>

#include "hessq/core/error.hpp"
#include "pipeline/pipeline_util.hpp"
#include "pipeline/stories_fixture.hpp"
#include "transforms/tiny_model.hpp"

namespace hessq::pipeline {

using test::Stories;

namespace {

// Runs `fn` and returns the error message ("" if it succeeded).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Recipe with_formats(const std::string& method, const std::string& wformat, const std::string& aformat) {
  Recipe r = recipe_for_method(method);
  set_formats(r, "", wformat, aformat, "test");
  return r;
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

}  // namespace

TEST(W4a4BadInput, RankLargerThanALinearAllows) {
  Stories s;
  // k_proj and v_proj of stories260K are [32, 64]: rank 40 fits q_proj but not them.
  const std::string e = error_of([&] { check_recipe_fits(test::recipe("arhq", "nvfp4", 40), s.m.cfg); });
  EXPECT_HAS(e, "k_proj [32, 64] in every layer");
  EXPECT_HAS(e, "rank 40 is too large");
  EXPECT_HAS(e, "min(m, n) = 32");
}

TEST(W4a4BadInput, GptqOnANonIntWeightFormat) {
  EXPECT_HAS(error_of([] { test::recipe("quarot+gptq", "nvfp4-2d"); }),
             "gptq supports INT, MXFP4, NVFP4 (1x16) and ggml block weights; the weight format is nvfp4-2d");
}

TEST(W4a4BadInput, ActivationFormatTheWeightFormatCannotPairWith) {
  Stories s;
  EXPECT_HAS(error_of([&] { check_recipe_fits(with_formats("rtn", "int4-g32", "nvfp4"), s.m.cfg); }),
             "NVFP4 activations need NVFP4 weights");
  EXPECT_HAS(error_of([&] { check_recipe_fits(with_formats("rtn", "nvfp4", "int8-tensor"), s.m.cfg); }),
             "depends on the batch");
}

TEST(W4a4BadInput, HiddenSizeNotDivisibleByTheBlock) {
  Stories s;  // hidden_dim 172: not a multiple of 16 or 32
  std::string e = error_of([&] { check_recipe_fits(with_formats("rtn", "int4-g32", "int4-g32"), s.m.cfg); });
  EXPECT_HAS(e, "down_proj [64, 172]");
  EXPECT_HAS(e, "activation group 32 does not divide the 172 inputs");  // activation groups are never padded
  Recipe r = test::recipe("rtn", "int4");  // weights int4-g32: zero-padded unless pad is off
  r.passes.back().pad = false;
  EXPECT_HAS(error_of([&] { check_recipe_fits(r, s.m.cfg); }), "group 32 does not divide its 172 inputs");
  // NVFP4 / MXFP4 pad the trailing block (documented in formats/quant_spec.hpp): accepted.
  for (const char* f : {"nvfp4", "mxfp4"}) EXPECT_NO_THROW(check_recipe_fits(test::recipe("rtn", f), s.m.cfg));
}

TEST(W4a4BadInput, RotationOfADimensionWithoutAHadamardMatrix) {
  // hidden_dim 86 = 2 x 43: no Hadamard matrix has that order (4 does not divide it).
  const model::Model m = test::tiny_model(test::tiny_config(32, 86, 4, 2, 8), 3);
  calib::Windows w;
  w.window = 8;
  w.calib = {{1, 5, 9, 13, 17, 21, 25, 29}};
  Recipe r = test::recipe("quarot+rtn", "int8");
  r.passes[0].rotate.allow_random_fallback = false;
  const std::string e = error_of([&] { test::run_pipeline(m, r, w); });
  EXPECT_HAS(e, "hidden_dim");
  EXPECT_HAS(e, "86");
  r.passes[0].rotate.allow_random_fallback = true;  // the documented fallback: a seeded random orthogonal block
  EXPECT_EQ(error_of([&] { test::run_pipeline(m, r, w); }), "");
}

TEST(W4a4BadInput, UnknownOrRepeatedStages) {
  EXPECT_HAS(error_of([] { recipe_for_method("arhq+foo"); }), "unknown pass 'foo'");
  EXPECT_HAS(error_of([] { recipe_for_method("arhq+svdquant"); }), "two low-rank branches");
  EXPECT_HAS(error_of([] { recipe_for_method("rtn+gptq"); }), "solver 'rtn' must be the last pass");
  EXPECT_HAS(error_of([] { test::recipe("rtn", "nvfp5"); }), "nvfp5");
}

}  // namespace hessq::pipeline
