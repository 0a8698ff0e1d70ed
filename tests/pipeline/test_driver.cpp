// The sequential driver on stories260K: statistics against an independent computation, sequential
// vs float-input calibration, AWQ folding leaves the float model unchanged, diagnostics present.
#include <gtest/gtest.h>

#include <cmath>

#include "hessq/calib/sequential.hpp"
#include "hessq/core/error.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/pipeline/driver.hpp"
#include "hessq/runtime/quantized_linear.hpp"
#include "pipeline/stories_fixture.hpp"

namespace hessq::pipeline {

using test::Stories;

// Relative error of accumulated double statistics vs a naive double loop over the same floats: the
// two sum in different orders; 1e-9 is far above double round-off for ~500 tokens and far below
// any real disagreement.
constexpr double kStatsRelTol = 1e-9;
// AWQ folding multiplies weights by s and norms by 1/s in fp32: the logits move by float rounding
// only. The bound: <= 1e-4 relative to the largest logit.
constexpr double kFoldRelTol = 1e-4;

static const model::DenseLinear& dense(const model::Model& m, int l, model::Proj p) {
  return dynamic_cast<const model::DenseLinear&>(m.layers[l].linear(p));
}

// Block 0's attention input is rmsnorm(embedding) * attn_norm: computable without the transformer.
TEST(Driver, Block0StatisticsMatchNaiveComputation) {
  Stories s;
  const calib::Windows w = s.windows();
  const calib::BlockStats bs = calib::collect_block_stats(s.m, 0, w.calib, {});
  const int d = s.m.cfg.dim;
  linalg::Mat XtX = linalg::Mat::Zero(d, d);
  int64_t N = 0;
  for (const auto& win : w.calib)
    for (int t : win) {
      const float* e = s.m.tok_emb.ptr() + static_cast<size_t>(t) * d;
      double ss = 0;
      for (int i = 0; i < d; ++i) ss += static_cast<double>(e[i]) * e[i];
      const float scale = static_cast<float>(1.0 / std::sqrt(ss / d + s.m.cfg.norm_eps));
      linalg::Vec x(d);
      for (int i = 0; i < d; ++i) x[i] = e[i] * scale * s.m.layers[0].attn_norm.ptr()[i];
      XtX += x * x.transpose();
      ++N;
    }
  const calib::Stats& st = bs[calib::InputKind::Attn];
  EXPECT_EQ(st.N, N);
  EXPECT_LE((st.XtX - XtX).norm() / XtX.norm(), kStatsRelTol);
}

// Stopping after block k gives the same block-k statistics as running the whole model.
TEST(Driver, StopAfterLayerGivesTheSameInputs) {
  Stories s;
  const calib::Windows w = s.windows();
  const int layer = 2;
  const calib::BlockStats stop = calib::collect_block_stats(s.m, layer, w.calib, {});
  calib::Stats full(s.m.cfg.hidden_dim);
  model::Transformer tr(s.m, w.window);
  tr.set_hook([&](const model::LinearId& id, const float* x, int n) {
    if (id.layer == layer && id.proj == model::Proj::Down) full.add(x, n, s.m.cfg.hidden_dim);
  });
  for (const auto& win : w.calib) {
    tr.reset();
    ASSERT_NE(tr.forward(win.data(), static_cast<int>(win.size()), false), nullptr);
  }
  EXPECT_EQ(stop[calib::InputKind::MlpOut].XtX, full.XtX);  // same floats, same order: bit-identical
}

TEST(Driver, SequentialAndFloatInputsBothRun) {
  Stories s;
  const calib::Windows w = s.windows();
  Recipe seq = recipe_for_method("gptq");
  set_param(seq.passes[0], "bits", ParamValue(int64_t{3}), "test");
  finalize_pass(seq.passes[0], "test");
  Recipe flt = seq;
  flt.sequential = false;
  DriverOptions opt;
  opt.progress = false;
  const QuantizeResult a = quantize_model(s.m, seq, w, opt);
  const QuantizeResult b = quantize_model(s.m, flt, w, opt);
  auto wq = [](const QuantizeResult& r, int l, model::Proj p) {
    return dynamic_cast<const runtime::QuantizedLinear&>(r.model.layers[l].linear(p)).weight();
  };
  auto same = [](const Tensor& x, const Tensor& y) {
    return std::equal(x.ptr(), x.ptr() + x.numel(), y.ptr());
  };
  // Block 0 sees the embeddings either way; later blocks see quantized vs float activations.
  EXPECT_TRUE(same(wq(a, 0, model::Proj::Q), wq(b, 0, model::Proj::Q)));
  EXPECT_FALSE(same(wq(a, 3, model::Proj::Q), wq(b, 3, model::Proj::Q)));
  EXPECT_EQ(a.diagnostics.size(), 35u);
  // The source model is untouched.
  EXPECT_NE(dynamic_cast<const model::DenseLinear*>(s.m.layers[0].q.get()), nullptr);
  const auto& d = a.diagnostics.at("model.layers.1.mlp.down_proj");
  EXPECT_GT(d["loss"].get<double>(), 0);
  EXPECT_GT(d["loss_rel_heldout"].get<double>(), 0);
  EXPECT_FALSE(d.contains("padded_in"));  // per channel: no padding
}

TEST(Driver, AwqFoldingLeavesFloatLogitsUnchanged) {
  Stories s;
  const calib::Windows w = s.windows();
  Recipe r = recipe_for_method("awq");
  set_param(r.passes[1], "bits", ParamValue(int64_t{3}), "test");
  set_param(r.passes[1], "group", ParamValue(int64_t{32}), "test");
  finalize_pass(r.passes[1], "test");
  DriverOptions opt;
  opt.progress = false;
  opt.block.transforms_only = true;
  const QuantizeResult res = quantize_model(s.m, r, w, opt);
  // The transforms did something: some alpha > 0, and norms and weights changed.
  double max_alpha = 0;
  for (const auto& [name, d] : res.diagnostics) max_alpha = std::max(max_alpha, d["awq"]["alpha"].get<double>());
  EXPECT_GT(max_alpha, 0);
  EXPECT_NE(res.model.layers[1].attn_norm.ptr(), s.m.layers[1].attn_norm.ptr());
  EXPECT_NE(dense(res.model, 1, model::Proj::Up).weight().ptr()[0], dense(s.m, 1, model::Proj::Up).weight().ptr()[0]);

  const std::vector<int> tokens = s.tok->encode("Once upon a time, there was a little dog named Max.", true);
  const std::vector<float> a = test::logits_of(s.m, tokens), b = test::logits_of(res.model, tokens);
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
    max_abs = std::max(max_abs, std::abs(static_cast<double>(a[i])));
  }
  EXPECT_LE(max_diff / max_abs, kFoldRelTol) << "max |dlogit| " << max_diff;
}

TEST(Driver, OsaqDiagnosticsAndGroupPadding) {
  Stories s;
  const calib::Windows w = s.windows();
  const Recipe r = parse_recipe("passes:\n  - osaq: {gamma: 1e-4}\n  - gptq: {bits: 4, group: 32}\n", "r.yaml");
  DriverOptions opt;
  opt.progress = false;
  const QuantizeResult res = quantize_model(s.m, r, w, opt);
  const auto& d = res.diagnostics.at("model.layers.0.mlp.down_proj");
  EXPECT_EQ(d["padded_in"], 192);  // 172 inputs, zero-padded to 6 groups of 32
  const auto& o = d["osaq"];
  EXPECT_GE(o["K"].get<int>(), 1);
  EXPECT_EQ(o["output_ratio_on"], "heldout");
  EXPECT_TRUE(o["output_ratio"].is_number());
  EXPECT_GE(o["null_space_angles"]["count"].get<int>(), 1);  // from the two halves of the windows
  const auto& q = dynamic_cast<const runtime::QuantizedLinear&>(res.model.layers[0].linear(model::Proj::Down));
  EXPECT_EQ(q.stored_in_features(), 192);
  EXPECT_EQ(q.in_features(), 172);

  Recipe no_pad = r;
  no_pad.passes[1].pad = false;
  try {
    check_recipe_fits(no_pad, s.m.cfg);
    FAIL() << "group 32 accepted for 172 inputs without padding";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("down_proj has 172 inputs"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("group 32 does not divide its 172 inputs"), std::string::npos) << e.what();
  }
}

}  // namespace hessq::pipeline
