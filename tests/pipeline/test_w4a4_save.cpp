// W4A4 models through .hessq: saved and reloaded, they give bit-identical logits (low-rank branches in
// F16 and F32, smoothing vectors, online Hadamard around down_proj); the manifest records each
// linear's activation format, rank and effective bits; the float-equivalent checkpoint folds the
// branch, the smoothing and the rotation into one dense weight.
#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "hessq/io/hessq_format.hpp"
#include "hessq/io/hessq_linear.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "pipeline/pipeline_util.hpp"
#include "pipeline/stories_fixture.hpp"

namespace hessq::pipeline {

using test::logits_of;
using test::Stories;

namespace {

test::Run run(const Stories& s, const Recipe& r) { return test::run_pipeline(s.m, r, s.windows()); }

}  // namespace

TEST(W4a4Save, ReloadedModelGivesIdenticalLogits) {
  Stories s;
  const std::vector<int> tokens = s.tok->encode("Once upon a time, there was a big dog. The dog was happy.", true);
  const Recipe f16 = test::recipe("arhq", "nvfp4", 4, true);
  const Recipe rot = test::recipe("quarot+arhq+gptq", "int4", 4, false);
  Recipe f32 = test::recipe("svdquant", "mxfp4", 8, false);
  f32.passes[0].branch.dtype = "f32";
  int i = 0;
  for (const Recipe& c : {f16, rot, f32}) {
    SCOPED_TRACE(c.describe());
    const test::Run r = run(s, c);
    const std::string dir = (test::scratch_dir() / fmt::format("m{}", i++)).string();
    io::HessqMeta meta;
    meta.recipe = c.to_json();
    io::write_hessq(dir, r.model, meta, r.diagnostics);
    const model::Model back = io::load_hessq_model(dir);
    EXPECT_EQ(logits_of(back, tokens), logits_of(r.model, tokens));

    const auto j = io::read_hessq_manifest(dir);
    ASSERT_EQ(j["linears"].size(), 35u);
    const auto& rec = j["linears"][6];  // layer 0 down_proj
    EXPECT_EQ(rec["act_format"], c.act->name());
    EXPECT_EQ(rec["rank"], c.branch()->branch.rank);
    EXPECT_EQ(rec["lowrank_dtype"], c.branch()->branch.dtype == "f32" ? "F32" : "F16");
    EXPECT_GT(rec["bits_per_weight"].get<double>(), rec["residual_bits_per_weight"].get<double>());
    EXPECT_EQ(rec["input_transform"].is_null(), c.find("rotate") == nullptr);
  }
}

TEST(W4a4Save, FloatEquivalentWeightFoldsBranchSmoothingAndRotation) {
  Stories s;
  const test::Run r = run(s, test::recipe("quarot+smooth+arhq", "nvfp4", 4, false));
  const auto& had = dynamic_cast<const model::HadamardLinear&>(r.model.layers[1].linear(model::Proj::Down));
  const auto& act = dynamic_cast<const model::ActQuantLinear&>(*had.inner());
  const int64_t m = had.out_features(), n = had.in_features(), T = 3;
  const Tensor W = io::float_equivalent_weight(had, "down_proj");
  std::vector<float> x(T * n), xr(T * n);
  for (int64_t i = 0; i < T * n; ++i) x[i] = static_cast<float>(std::sin(0.37 * i));
  had.rotate_input(x.data(), static_cast<int>(T), xr.data());
  // Reference without Q_x, in double: x_s = (x M) / s, y = x_s W_q^T + (x_s A) B^T.
  const model::LowRankBranch& L = *act.lowrank();
  const float* s_ = act.smooth()->ptr();
  const Tensor Wq_t = act.residual()->dequantized();
  const float* Wq = Wq_t.ptr();
  double max_err = 0, max_y = 0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < m; ++i) {
      double ref = 0, got = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double xs = static_cast<double>(xr[t * n + j]) / s_[j];
        double w = Wq[i * n + j];
        for (int k = 0; k < L.rank(); ++k) w += static_cast<double>(L.B.ptr()[i * L.rank() + k]) * L.A.ptr()[j * L.rank() + k];
        ref += xs * w;
        got += static_cast<double>(x[t * n + j]) * W.ptr()[i * n + j];
      }
      max_err = std::max(max_err, std::abs(ref - got));
      max_y = std::max(max_y, std::abs(ref));
    }
  constexpr double kFoldRelTol = 1e-4;  // fp32 GEMMs over 172 inputs; any missing fold errs by O(1)
  EXPECT_LE(max_err, kFoldRelTol * max_y);
}

}  // namespace hessq::pipeline
