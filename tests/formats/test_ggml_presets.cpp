// llama-quantize's per-tensor type rules, checked against cases worked out by hand from
// llama.cpp's src/llama-quant.cpp (llama_tensor_get_type_impl, tensor_type_fallback).
#include <gtest/gtest.h>

#include "hessq/formats/ggml_presets.hpp"
#include "test_util.hpp"

namespace hessq::formats {
namespace {

using R = GgmlRole;

TEST(GgmlPresets, Q4KMOnA32LayerModel) {
  // use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2 (i = 6, 9, 12, ..., 27).
  for (int i = 0; i < 32; ++i) {
    const bool more = i < 4 || i >= 28 || (i - 4) % 3 == 2;
    EXPECT_EQ(ggml_preset_type("Q4_K_M", R::AttnV, i, 32, 4096, 1, false), more ? GgmlType::kQ6_K : GgmlType::kQ4_K) << i;
    EXPECT_EQ(ggml_preset_type("Q4_K_M", R::FfnDown, i, 32, 11008, 1, false), more ? GgmlType::kQ6_K : GgmlType::kQ4_K) << i;
    // Rows of 2816 (11 x 256 = 88 x 32) fit; rows of 4000 (125 x 32) fall back: Q6_K -> Q8_0, Q4_K -> Q5_0.
    EXPECT_EQ(ggml_preset_type("Q4_K_M", R::FfnDown, i, 32, 4000, 1, false), more ? GgmlType::kQ8_0 : GgmlType::kQ5_0) << i;
    EXPECT_EQ(ggml_preset_type("Q4_K_M", R::AttnQ, i, 32, 4096, 1, false), GgmlType::kQ4_K);
  }
  EXPECT_EQ(ggml_preset_type("Q4_K_M", R::FfnDown, 6, 32, 14336, 1, false), GgmlType::kQ6_K);  // 14336 = 56 * 256
  EXPECT_EQ(ggml_preset_type("Q4_K_M", R::FfnDown, 7, 32, 14336, 1, false), GgmlType::kQ4_K);
  EXPECT_EQ(ggml_preset_type("Q4_K_M", R::Output, 0, 32, 4096, 1, false), GgmlType::kQ6_K);
  EXPECT_EQ(ggml_preset_type("Q4_K_M", R::TokenEmbd, 0, 32, 4096, 1, false), GgmlType::kQ4_K);
  EXPECT_EQ(ggml_preset_type("Q4_K_M", R::TokenEmbd, 0, 32, 4096, 1, true), GgmlType::kQ6_K);  // tied: the output rule
}

TEST(GgmlPresets, FallbacksForRowsThatDoNotFillBlocks) {
  // SmolLM2-135M: rows of 576 (2.25 x 256) and 1536 (6 x 256); stories260K: 64 and 172 (not x 32).
  EXPECT_EQ(ggml_preset_type("Q4_K_M", R::AttnQ, 0, 30, 576, 3, false), GgmlType::kQ5_0);
  EXPECT_EQ(ggml_preset_type("Q4_K_M", R::FfnDown, 4, 30, 1536, 3, false), GgmlType::kQ4_K);  // (4 - 30 / 8) % 3 = 1
  EXPECT_EQ(ggml_preset_type("Q4_K_M", R::Output, 0, 30, 576, 3, true), GgmlType::kQ8_0);  // output rule: 576 % 256 != 0
  // Q4_0's blocks fill 576, so the output rule says Q6_K, whose 256 do not: the fallback gives Q8_0
  // (llama-quantize on SmolLM2-135M: "token_embd.weight ... falling back to q8_0").
  EXPECT_EQ(ggml_preset_type("Q4_0", R::TokenEmbd, 0, 30, 576, 3, true), GgmlType::kQ8_0);
  EXPECT_EQ(ggml_preset_type("Q4_0", R::TokenEmbd, 0, 30, 576, 3, false), GgmlType::kQ4_0);
  EXPECT_EQ(ggml_preset_type("Q3_K_S", R::AttnK, 0, 30, 576, 3, false), GgmlType::kQ4_0);
  EXPECT_EQ(ggml_preset_type("Q5_K_S", R::AttnK, 0, 30, 576, 3, false), GgmlType::kQ5_1);
  EXPECT_EQ(ggml_preset_type("Q6_K", R::AttnK, 0, 30, 576, 3, false), GgmlType::kQ8_0);
  EXPECT_EQ(ggml_preset_type("Q4_K_M", R::FfnDown, 0, 5, 172, 1, false), GgmlType::kF16);  // Q6_K -> Q8_0 -> F16
  EXPECT_EQ(ggml_preset_type("Q4_0", R::FfnDown, 0, 5, 172, 1, false), GgmlType::kF16);
  EXPECT_EQ(ggml_preset_type("Q4_0", R::AttnQ, 0, 5, 64, 1, false), GgmlType::kQ4_0);
}

TEST(GgmlPresets, OtherPresets) {
  EXPECT_EQ(ggml_preset_type("Q2_K", R::AttnV, 3, 32, 4096, 4, false), GgmlType::kQ4_K);  // GQA >= 4
  EXPECT_EQ(ggml_preset_type("Q2_K", R::AttnV, 3, 32, 4096, 1, false), GgmlType::kQ3_K);
  EXPECT_EQ(ggml_preset_type("Q2_K", R::FfnDown, 3, 32, 4096, 1, false), GgmlType::kQ3_K);
  EXPECT_EQ(ggml_preset_type("Q2_K", R::FfnUp, 3, 32, 4096, 1, false), GgmlType::kQ2_K);
  EXPECT_EQ(ggml_preset_type("Q3_K_M", R::AttnV, 1, 32, 4096, 1, false), GgmlType::kQ5_K);
  EXPECT_EQ(ggml_preset_type("Q3_K_M", R::AttnV, 2, 32, 4096, 1, false), GgmlType::kQ4_K);
  EXPECT_EQ(ggml_preset_type("Q3_K_M", R::FfnDown, 1, 32, 4096, 1, false), GgmlType::kQ5_K);  // 1 < 32 / 16
  EXPECT_EQ(ggml_preset_type("Q3_K_M", R::FfnDown, 2, 32, 4096, 1, false), GgmlType::kQ4_K);
  EXPECT_EQ(ggml_preset_type("Q3_K_M", R::AttnOutput, 2, 32, 4096, 1, false), GgmlType::kQ4_K);
  EXPECT_EQ(ggml_preset_type("Q4_K_S", R::AttnV, 3, 32, 4096, 1, false), GgmlType::kQ5_K);
  EXPECT_EQ(ggml_preset_type("Q4_K_S", R::AttnV, 4, 32, 4096, 1, false), GgmlType::kQ4_K);
  EXPECT_EQ(ggml_preset_type("Q4_0", R::FfnDown, 3, 32, 4096, 1, false), GgmlType::kQ4_1);  // first eighth
  EXPECT_EQ(ggml_preset_type("Q4_0", R::FfnDown, 4, 32, 4096, 1, false), GgmlType::kQ4_0);
  EXPECT_EQ(ggml_preset_type("Q8_0", R::Output, 0, 32, 4096, 1, false), GgmlType::kQ8_0);
  EXPECT_EQ(ggml_preset_type("Q4_0", R::Output, 0, 32, 4096, 1, false), GgmlType::kQ6_K);
  const std::string err = test::error_of([] { ggml_preset_type("Q4_K_X", R::AttnQ, 0, 1, 256, 1, false); });
  EXPECT_NE(err.find("unknown llama-quantize preset 'Q4_K_X'"), std::string::npos) << err;
  EXPECT_NE(err.find("Q4_K_M"), std::string::npos) << err;
}

TEST(GgmlPresets, BaseTypeAndFileType) {
  // llama.h: LLAMA_FTYPE_MOSTLY_Q4_0 = 2, Q8_0 = 7, Q3_K_S = 11, Q4_K_M = 15, Q6_K = 18.
  EXPECT_EQ(ggml_preset_base("Q4_K_M"), GgmlType::kQ4_K);
  EXPECT_EQ(ggml_preset_ftype("Q4_0"), 2u);
  EXPECT_EQ(ggml_preset_ftype("Q8_0"), 7u);
  EXPECT_EQ(ggml_preset_ftype("Q3_K_S"), 11u);
  EXPECT_EQ(ggml_preset_ftype("Q4_K_M"), 15u);
  EXPECT_EQ(ggml_preset_ftype("Q6_K"), 18u);
  // A file mostly in one type: the preset named after it, the "_M" one for Q3_K / Q4_K / Q5_K.
  EXPECT_EQ(ggml_type_ftype(GgmlType::kQ4_0), 2u);
  EXPECT_EQ(ggml_type_ftype(GgmlType::kQ5_1), 9u);
  EXPECT_EQ(ggml_type_ftype(GgmlType::kQ3_K), 12u);
  EXPECT_EQ(ggml_type_ftype(GgmlType::kQ4_K), 15u);
  EXPECT_EQ(ggml_type_ftype(GgmlType::kQ5_K), 17u);
  EXPECT_EQ(ggml_type_ftype(GgmlType::kQ6_K), 18u);
  EXPECT_FALSE(ggml_type_ftype(GgmlType::kF16).has_value());
  const std::string err = test::error_of([] { ggml_preset_ftype("Q4_K_X"); });
  EXPECT_NE(err.find("unknown llama-quantize preset 'Q4_K_X'"), std::string::npos) << err;
}

}  // namespace
}  // namespace hessq::formats
