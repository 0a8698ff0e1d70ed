// rotate_model keeps the float model's logits (issue: <= 1e-4), uses real Hadamard matrices where the
// sizes allow, fails cleanly where they do not, and is seeded.
#include <gtest/gtest.h>

#include <algorithm>

#include "hessq/core/error.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/transforms/fold_norms.hpp"
#include "hessq/transforms/hadamard.hpp"
#include "hessq/transforms/rotation.hpp"
#include "test_util.hpp"
#include "tiny_model.hpp"

namespace hessq::transforms {

// Issue requirement: the rotated float model's logits equal the original's within 1e-4.
constexpr double kRotateTol = 1e-4;

static const std::vector<int> kStoriesTokens = {1, 403, 407, 261, 378, 290, 300, 410, 317, 385, 290, 403};

static const Tensor& weight(const std::shared_ptr<model::Linear>& lin) {
  if (auto* h = dynamic_cast<const model::HadamardLinear*>(lin.get()))
    return dense_linear(*h->inner(), "inner").weight();
  return dense_linear(*lin, "linear").weight();
}

static bool same(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && std::equal(a.ptr(), a.ptr() + a.numel(), b.ptr());
}

TEST(RotateModel, StoriesLogitsUnchanged) {
  const model::Model orig = io::load_model(test::stories_bin());
  const auto before = test::all_logits(orig, kStoriesTokens);
  for (bool online : {true, false})
    for (bool vo : {true, false}) {
      model::Model m = orig;
      const RotateReport rep = rotate_model(m, {7, online, vo, true});
      EXPECT_LE(test::max_abs_diff(test::all_logits(m, kStoriesTokens), before), kRotateTol)
          << "online_down " << online << " rotate_v_o " << vo;
      EXPECT_EQ(rep.residual_kind, "hadamard");  // dim 64 = 2^6: Sylvester
      EXPECT_EQ(rep.residual_construction.rfind("sylvester(2^6)", 0), 0u) << rep.residual_construction;
      EXPECT_EQ(rep.head_kind, vo ? "hadamard" : "");  // head_dim 8
      // hidden 172 = 4 * 43: Hadamard if the Williamson table covers 43, else the documented fallback.
      EXPECT_EQ(rep.down_kind, !online ? "" : hadamard_plan(172) ? "hadamard" : "random-orthogonal");
      EXPECT_TRUE(rep.untied_head);
      EXPECT_EQ(dynamic_cast<const model::HadamardLinear*>(m.layers[0].down.get()) != nullptr, online);
    }
}

// The model before rotation still runs as before: rotation built new tensors.
TEST(RotateModel, OriginalTensorsUntouched) {
  const model::Model orig = io::load_model(test::stories_bin());
  const auto before = test::all_logits(orig, kStoriesTokens);
  const Tensor emb = orig.tok_emb.clone();
  model::Model m = orig;
  rotate_model(m, {});
  EXPECT_TRUE(same(emb, orig.tok_emb));
  EXPECT_EQ(test::max_abs_diff(test::all_logits(orig, kStoriesTokens), before), 0.0);
}

// A tiny model whose sizes all have real Hadamard matrices with a non-trivial base: dim 80 = 2^2 * 20,
// hidden 96 = 2^3 * 12, head_dim 20; GQA, untied head.
TEST(RotateModel, TinyModelUsesRealHadamard) {
  const model::Model orig = test::tiny_model(test::tiny_config(80, 96, 4, 2, 20), 5);
  const std::vector<int> toks = {1, 7, 8, 40, 63, 2, 11, 12};
  const auto before = test::all_logits(orig, toks);
  model::Model m = orig;
  const RotateReport rep = rotate_model(m, {1, true, true, false});
  EXPECT_LE(test::max_abs_diff(test::all_logits(m, toks), before), kRotateTol);
  EXPECT_EQ(rep.residual_kind, "hadamard");
  EXPECT_EQ(rep.residual_construction.rfind("2^2 x paley1(q=19)", 0), 0u) << rep.residual_construction;
  EXPECT_EQ(rep.down_construction, "2^3 x paley1(q=11)");
  EXPECT_EQ(rep.head_construction, "paley1(q=19)");
  EXPECT_FALSE(rep.untied_head);
  const auto* h = dynamic_cast<const model::HadamardLinear*>(m.layers[1].down.get());
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->log2_blocks(), 3);
  EXPECT_EQ(h->base().shape, (Shape{12, 12}));
}

// Qwen2 (q/k/v biases, rotated per head with v) and Qwen3 (per-head q/k norms), tied heads.
TEST(RotateModel, QwenVariantsUnchanged) {
  for (model::Arch arch : {model::Arch::Qwen2, model::Arch::Qwen3}) {
    const model::Model orig = test::tiny_model(test::tiny_config(64, 160, 4, 2, 16, arch, true), 9);
    const std::vector<int> toks = {1, 3, 5, 7, 11, 13, 17};
    const auto before = test::all_logits(orig, toks);
    model::Model m = orig;
    rotate_model(m, {2, true, true, true});
    EXPECT_LE(test::max_abs_diff(test::all_logits(m, toks), before), kRotateTol) << model::arch_name(arch);
  }
}

TEST(RotateModel, DecodeMatchesPrefillAfterRotation) {
  model::Model m = io::load_model(test::stories_bin());
  rotate_model(m, {});
  const auto prefill = test::all_logits(m, kStoriesTokens);
  model::Transformer tr(m, static_cast<int>(kStoriesTokens.size()));
  const int V = m.cfg.vocab_size;
  for (size_t t = 0; t < kStoriesTokens.size(); ++t) {
    const float* d = tr.forward(&kStoriesTokens[t], 1, false);
    for (int i = 0; i < V; ++i) ASSERT_NEAR(d[i], prefill[t * V + i], kRotateTol) << t << " " << i;
  }
}

// An MLP width without a Hadamard matrix (86 = 2 * 43, not a multiple of 4) and no fallback: the
// error names the dimension, and the model is left as it was.
TEST(RotateModel, UnsupportedDimensionWithoutFallbackNamesIt) {
  model::Model m = test::tiny_model(test::tiny_config(32, 86, 4, 4, 8), 2);
  const Tensor q_before = dense_linear(*m.layers[0].q, "q").weight();
  try {
    rotate_model(m, {0, true, true, false});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("hidden_dim"), std::string::npos) << msg;
    EXPECT_NE(msg.find("86"), std::string::npos) << msg;
  }
  EXPECT_EQ(dense_linear(*m.layers[0].q, "q").weight().ptr(), q_before.ptr());
  EXPECT_NE(m.layers[0].attn_norm.ptr()[0], 1.0f);  // not folded either

  // With the fallback the same model rotates and keeps its logits.
  const std::vector<int> toks = {1, 2, 3, 4, 5};
  const auto before = test::all_logits(m, toks);
  const RotateReport rep = rotate_model(m, {0, true, true, true});
  EXPECT_EQ(rep.down_kind, "random-orthogonal");
  EXPECT_LE(test::max_abs_diff(test::all_logits(m, toks), before), kRotateTol);
}

TEST(RotateModel, SeededResidualRotation) {
  const model::Model orig = io::load_model(test::stories_bin());
  model::Model a = orig, b = orig, c = orig;
  rotate_model(a, {3});
  rotate_model(b, {3});
  rotate_model(c, {4});
  EXPECT_TRUE(same(a.tok_emb, b.tok_emb));
  EXPECT_FALSE(same(a.tok_emb, c.tok_emb));
  for (int l = 0; l < orig.cfg.n_layers; ++l)
    for (model::Proj p : model::kAllProjs) {
      EXPECT_TRUE(same(weight(a.layers[l].linear(p)), weight(b.layers[l].linear(p))));
      EXPECT_FALSE(same(weight(a.layers[l].linear(p)), weight(c.layers[l].linear(p))));
    }
}

TEST(RotateModel, RefusesQuantizedOrRotatedLinears) {
  model::Model m = io::load_model(test::stories_bin());
  rotate_model(m, {});
  EXPECT_THROW(rotate_model(m, {}), Error);  // down_proj is now a HadamardLinear
}

}  // namespace hessq::transforms
