// fold_norms keeps the float model's logits (stories260K and tiny seeded models with non-trivial norms).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "hessq/io/checkpoint.hpp"
#include "hessq/transforms/fold_norms.hpp"
#include "test_util.hpp"
#include "tiny_model.hpp"

namespace hessq::transforms {

// Folding moves each product by one fp32 rounding (W_ij w_j instead of xhat_j w_j), so logits move by
// fp32 noise only: measured 1.24e-5 on stories260K, whose logits reach 18.9 (ulp 1.9e-6 there), i.e.
// 6.6e-7 of the largest logit. The bound is relative to the largest |logit| (1e-6: ~8 fp32 ulps);
// the absolute 1e-5 is just below the fp32 resolution of these logits.
constexpr double kFoldRelTol = 1e-6;

static double fold_tol(const std::vector<float>& logits) {
  double mx = 1.0;
  for (float v : logits) mx = std::max(mx, static_cast<double>(std::abs(v)));
  return kFoldRelTol * mx;
}

static bool all_ones(const Tensor& t) {
  return std::all_of(t.ptr(), t.ptr() + t.numel(), [](float v) { return v == 1.0f; });
}

TEST(FoldNorms, StoriesLogitsUnchanged) {
  model::Model m = io::load_model(test::stories_bin());
  const std::vector<int> toks = {1, 403, 407, 261, 378, 290, 300};
  const auto before = test::all_logits(m, toks);
  const bool was_tied = m.cfg.tie_embeddings;
  fold_norms(m);
  EXPECT_LE(test::max_abs_diff(test::all_logits(m, toks), before), fold_tol(before));
  EXPECT_TRUE(all_ones(m.final_norm));
  for (const auto& L : m.layers) EXPECT_TRUE(all_ones(L.attn_norm) && all_ones(L.ffn_norm));
  EXPECT_FALSE(m.cfg.tie_embeddings);
  if (was_tied) {  // the head got its own tensor; the embedding is untouched
    EXPECT_NE(dense_linear(*m.lm_head, "lm_head").weight().ptr(), m.tok_emb.ptr());
  }
}

TEST(FoldNorms, TiedQwenModelsUnchanged) {
  for (model::Arch arch : {model::Arch::Qwen2, model::Arch::Qwen3}) {
    model::Model m = test::tiny_model(test::tiny_config(48, 96, 4, 2, 12, arch, /*tie=*/true), 3);
    const std::vector<int> toks = {1, 5, 9, 33, 2, 60};
    const auto before = test::all_logits(m, toks);
    const Tensor emb = m.tok_emb.clone();
    fold_norms(m);
    EXPECT_LE(test::max_abs_diff(test::all_logits(m, toks), before), fold_tol(before)) << model::arch_name(arch);
    EXPECT_FALSE(m.cfg.tie_embeddings);
    EXPECT_TRUE(std::equal(emb.ptr(), emb.ptr() + emb.numel(), m.tok_emb.ptr()));
  }
}

// The model's tensors before folding are never written (they may be views of a mapped file).
TEST(FoldNorms, LeavesOriginalTensorsUntouched) {
  model::Model m = test::tiny_model(test::tiny_config(32, 64, 4, 4, 8), 1);
  const model::Model before = m;  // shares the tensors
  const Tensor q_copy = dense_linear(*m.layers[0].q, "q").weight().clone();
  const Tensor norm_copy = m.layers[0].attn_norm.clone();
  fold_norms(m);
  const Tensor& q_old = dense_linear(*before.layers[0].q, "q").weight();
  EXPECT_TRUE(std::equal(q_copy.ptr(), q_copy.ptr() + q_copy.numel(), q_old.ptr()));
  EXPECT_TRUE(std::equal(norm_copy.ptr(), norm_copy.ptr() + norm_copy.numel(), before.layers[0].attn_norm.ptr()));
}

}  // namespace hessq::transforms
