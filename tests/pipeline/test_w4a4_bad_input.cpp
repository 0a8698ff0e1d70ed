// W4A4 bad input: every error is raised before any calibration and names what is wrong (the option,
// the linear, the dimension and what was expected).
#include <gtest/gtest.h>

#include <string>

#include "hessq/core/error.hpp"
#include "hessq/pipeline/w4a4_driver.hpp"
#include "pipeline/stories_fixture.hpp"
#include "transforms/tiny_model.hpp"

namespace hessq::pipeline {

using test::Stories;

namespace {

// Runs the driver and returns the error message ("" if it succeeded).
std::string error_of(const model::Model& m, const W4a4Config& c, const calib::Windows& w) {
  W4a4Options opt;
  opt.progress = false;
  try {
    quantize_model_w4a4(m, c, w, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string config_error(const std::string& method, const std::string& format) {
  try {
    w4a4_config_for_method(method, format, 0, false);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

}  // namespace

TEST(W4a4BadInput, RankLargerThanALinearAllows) {
  Stories s;
  // k_proj and v_proj of stories260K are [32, 64]: rank 40 fits q_proj but not them.
  const std::string e = error_of(s.m, w4a4_config_for_method("arhq", "nvfp4", 40, false), s.windows());
  EXPECT_HAS(e, "rank 40 is too large for k_proj [32, 64]");
  EXPECT_HAS(e, "min(m, n) = 32");
}

TEST(W4a4BadInput, GptqOnANonIntWeightFormat) {
  Stories s;
  const std::string e = error_of(s.m, w4a4_config_for_method("quarot+gptq", "nvfp4-2d", 0, false), s.windows());
  EXPECT_HAS(e, "gptq supports INT, MXFP4 and NVFP4 (1x16) weight formats; the weight format is nvfp4-2d");
}

TEST(W4a4BadInput, ActivationFormatTheWeightFormatCannotPairWith) {
  Stories s;
  W4a4Config c = w4a4_config_for_method("rtn", "int4", 0, false);
  c.format = methods::layer_format_from_specs("int4-g32", "nvfp4");
  EXPECT_HAS(error_of(s.m, c, s.windows()), "NVFP4 activations need NVFP4 weights");
  c.format = methods::layer_format_from_specs("nvfp4", "int8-tensor");
  EXPECT_HAS(error_of(s.m, c, s.windows()), "depends on the batch");
}

TEST(W4a4BadInput, HiddenSizeNotDivisibleByTheBlock) {
  Stories s;  // hidden_dim 172: not a multiple of 16 or 32
  W4a4Config c = w4a4_config_for_method("rtn", "int4", 0, false);
  c.format = methods::layer_format_from_specs("int4-g32", "int4-g32");  // activation groups are never padded
  std::string e = error_of(s.m, c, s.windows());
  EXPECT_HAS(e, "down_proj [64, 172]");
  EXPECT_HAS(e, "activation group 32 does not divide the 172 inputs");
  c = w4a4_config_for_method("rtn", "int4", 0, false);  // weights int4-g32: zero-padded unless pad is off
  c.pad = false;
  e = error_of(s.m, c, s.windows());
  EXPECT_HAS(e, "group 32 does not divide its 172 inputs");
  // NVFP4 / MXFP4 pad the trailing block (documented in formats/quant_spec.hpp): accepted.
  for (const char* f : {"nvfp4", "mxfp4"}) EXPECT_NO_THROW(check_w4a4_fits(w4a4_config_for_method("rtn", f, 0, false), s.m.cfg));
}

TEST(W4a4BadInput, RotationOfADimensionWithoutAHadamardMatrix) {
  // hidden_dim 86 = 2 x 43: no Hadamard matrix has that order (4 does not divide it).
  const model::Model m = test::tiny_model(test::tiny_config(32, 86, 4, 2, 8), 3);
  calib::Windows w;
  w.window = 8;
  w.calib = {{1, 5, 9, 13, 17, 21, 25, 29}};
  W4a4Config c = w4a4_config_for_method("quarot+rtn", "int8", 0, false);
  c.rotate_opt.allow_random_fallback = false;
  const std::string e = error_of(m, c, w);
  EXPECT_HAS(e, "hidden_dim");
  EXPECT_HAS(e, "86");
  c.rotate_opt.allow_random_fallback = true;  // the documented fallback: a seeded random orthogonal block
  EXPECT_EQ(error_of(m, c, w), "");
}

TEST(W4a4BadInput, UnknownOrRepeatedStages) {
  EXPECT_HAS(config_error("arhq+foo", "nvfp4"), "unknown W4A4 stage 'foo'");
  EXPECT_HAS(config_error("arhq+svdquant", "nvfp4"), "two low-rank stages");
  EXPECT_HAS(config_error("rtn+gptq", "nvfp4"), "two solvers");
  EXPECT_HAS(config_error("rtn", "nvfp5"), "unknown format 'nvfp5'");
  Stories s;
  EXPECT_HAS(error_of(s.m, w4a4_config_for_method("rtn", "nvfp4", 4, false), s.windows()),
             "--rank 4 needs a low-rank stage");
}

}  // namespace hessq::pipeline
