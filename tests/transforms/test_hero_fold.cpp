// HeRo-Q's folded form on whole float models (methods/hero.hpp, "Folded form"): fold the norms, rotate
// the residual stream by a dense learned-looking R (transforms::custom_rotation, here QuaRot's
// Hadamard moved off its lattice by a Cayley step), then give every RMSNorm its own scaling d: its
// readers W <- W diag(d) and its weight <- 1/d. The logits must not change (issue 12: 1e-4).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/core/random.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/linalg/stiefel.hpp"
#include "hessq/model/linear.hpp"
#include "hessq/transforms/fold_norms.hpp"
#include "hessq/transforms/rotation.hpp"
#include "test_util.hpp"
#include "tiny_model.hpp"

namespace hessq::transforms {
namespace {

// Issue 12: the transformed float model's logits equal the original's within 1e-4 (as QuaRot's).
constexpr double kHeroFoldTol = 1e-4;

// make_rotation's seeded Hadamard, moved along a random Cayley curve by a generator of norm 1.
linalg::Mat learned_like_rotation(int n, uint64_t seed) {
  const linalg::Mat R0 = make_rotation(n, {.random_signs = true, .seed = seed}, "dim").dense();
  linalg::Mat A(n, n);
  uint64_t s = seed + 1;
  for (Eigen::Index i = 0; i < A.size(); ++i) A.data()[i] = normal01(s);
  const linalg::Mat Om = A - A.transpose();
  return linalg::cayley_retract(R0, Om, 1.0 / Om.norm());
}

std::vector<float> scalings(int n, uint64_t seed) {  // d in [e^-0.5, e^0.5]
  std::vector<float> d(n);
  uint64_t s = seed;
  for (float& x : d) x = static_cast<float>(std::exp(uniform01(s) - 0.5));
  return d;
}

// Readers of one norm: W <- W diag(d); the norm weight (ones after folding) <- 1/d.
void scale_readers(model::LayerWeights& L, int l, const std::vector<float>& d, bool attn) {
  scale_norm_readers(L, l, attn ? model::InputKind::Attn : model::InputKind::Mlp,
                     Tensor::from({static_cast<int64_t>(d.size())}, d));
}

void hero_fold(model::Model& m, uint64_t seed) {
  fold_norms(m);
  rotate_residual(m, custom_rotation(learned_like_rotation(m.cfg.dim, seed), "hero R"));
  for (int l = 0; l < m.cfg.n_layers; ++l) {
    scale_readers(m.layers[l], l, scalings(m.cfg.dim, seed + 10 + 2 * l), true);
    scale_readers(m.layers[l], l, scalings(m.cfg.dim, seed + 11 + 2 * l), false);
  }
}

TEST(HeroFold, StoriesLogitsUnchanged) {
  const model::Model orig = io::load_model(test::stories_bin());
  const std::vector<int> toks = {1, 403, 407, 261, 378, 290, 300, 410, 317, 385, 290, 403};
  const auto before = test::all_logits(orig, toks);
  model::Model m = orig;
  hero_fold(m, 3);
  EXPECT_LE(test::max_abs_diff(test::all_logits(m, toks), before), kHeroFoldTol);
}

// Llama, Qwen2 (q/k/v biases: untouched by an input transform) and Qwen3 (q/k norms act after the
// projections) at dim 64, GQA.
TEST(HeroFold, TinyModelsLogitsUnchanged) {
  const std::vector<int> toks = {1, 7, 8, 40, 63, 2, 11, 12};
  for (model::Arch arch : {model::Arch::Llama, model::Arch::Qwen2, model::Arch::Qwen3}) {
    const model::Model orig = test::tiny_model(test::tiny_config(64, 96, 4, 2, 16, arch), 5);
    const auto before = test::all_logits(orig, toks);
    model::Model m = orig;
    hero_fold(m, 9);
    EXPECT_LE(test::max_abs_diff(test::all_logits(m, toks), before), kHeroFoldTol) << model::arch_name(arch);
  }
}

TEST(HeroFold, ScaleNormReadersRefusesBadScalings) {
  const model::Model m = test::tiny_model(test::tiny_config(64, 96, 4, 2, 16, model::Arch::Llama), 5);
  model::LayerWeights L = m.layers[1];
  std::vector<float> d(64, 1.0f);
  d[3] = -1;
  try {
    scale_norm_readers(L, 1, model::InputKind::Attn, Tensor::from({64}, d));
    FAIL() << "a negative scaling was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.input_layernorm.weight: scaling d[3] = -1 must be finite and > 0"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(scale_norm_readers(L, 1, model::InputKind::Mlp, Tensor::from({32}, std::vector<float>(32, 1.0f))), Error);
  EXPECT_THROW(scale_norm_readers(L, 1, model::InputKind::MlpOut, Tensor::from({64}, std::vector<float>(64, 1.0f))), Error);
  EXPECT_EQ(L.q, m.layers[1].q);  // untouched after the failures
}

}  // namespace
}  // namespace hessq::transforms
