// The W4A4 driver on stories260K: rank-0 ARHQ is exactly the RTN model, every method runs and
// reports its extra parameters and bits, low-rank branches raise the layer SNR, the quantized
// rotation path keeps the model (the float rotation itself is tested in
// tests/transforms/test_rotation.cpp: stories260K logits within 1e-4), sequential calibration
// sees the quantized blocks.
#include <gtest/gtest.h>

#include <cmath>

#include "hessq/model/hadamard_linear.hpp"
#include "hessq/model/act_quant_linear.hpp"
#include "hessq/pipeline/summary.hpp"
#include "pipeline/pipeline_util.hpp"
#include "pipeline/stories_fixture.hpp"

namespace hessq::pipeline {

using test::logits_of;
using test::Stories;

namespace {

std::vector<int> probe_tokens(const Stories& s) {
  return s.tok->encode("Once upon a time, there was a little girl named Lily. She liked to play outside.", true);
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::abs(x)));
  return m;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  return d;
}

struct W4a4Result {
  model::Model model;
  std::map<std::string, nlohmann::ordered_json> diagnostics;
  nlohmann::ordered_json summary, rotation;
};

W4a4Result run(const Stories& s, const std::string& method, const std::string& format, int rank, bool smooth = false,
               bool sequential = true, bool alloc = false) {
  Recipe r = test::recipe(method, format, rank, smooth);
  r.sequential = sequential;
  if (alloc)
    for (Pass& p : r.passes)
      if (find_pass(p.name)->scope == PassScope::Branch) p.branch.alloc = true;
  test::Run run = test::run_pipeline(s.m, r, s.windows());
  W4a4Result out{std::move(run.model), std::move(run.diagnostics), {}, run.report.rotation};
  out.summary = summarize_diagnostics(out.diagnostics);
  if (!run.report.allocation.is_null()) out.summary["allocation"] = run.report.allocation;
  return out;
}

const model::ActQuantLinear& act_linear(const model::Model& m, int layer, model::Proj p) {
  const model::Linear* l = &m.layers[layer].linear(p);
  if (auto* h = dynamic_cast<const model::HadamardLinear*>(l)) l = h->inner().get();
  return dynamic_cast<const model::ActQuantLinear&>(*l);
}

}  // namespace

TEST(W4a4, RankZeroArhqIsTheRtnModel) {
  Stories s;
  const std::vector<int> tokens = probe_tokens(s);
  for (const auto& [arhq, plain, format] : {std::tuple{"arhq", "rtn", "nvfp4"}, std::tuple{"arhq+gptq", "gptq", "int4"}}) {
    const W4a4Result a = run(s, arhq, format, 0), b = run(s, plain, format, 0);
    EXPECT_EQ(logits_of(a.model, tokens), logits_of(b.model, tokens)) << arhq << " vs " << plain;
    EXPECT_EQ(act_linear(a.model, 0, model::Proj::Q).rank(), 0);
    EXPECT_DOUBLE_EQ(a.summary["extra_params_pct"].get<double>(), 0.0);
  }
}

TEST(W4a4, EveryMethodRunsAndReportsItsCost) {
  Stories s;
  const std::vector<int> tokens = probe_tokens(s);
  const model::ModelConfig& c = s.m.cfg;
  int64_t mn = 0, m_plus_n = 0;  // over the 7 linears of a block
  for (model::Proj p : model::kAllProjs) {
    const model::Linear& l = *s.m.layers[0].linear(p);
    mn += static_cast<int64_t>(l.out_features()) * l.in_features();
    m_plus_n += l.out_features() + l.in_features();
  }
  const double nvfp4_bits = 4.0 + 8.0 / 16;  // codes + one E4M3 scale per 16 (the global scale aside)
  for (const std::string method : {"rtn", "smoothquant", "svdquant", "arhq", "arhq-h", "quarot+rtn", "smooth+arhq"}) {
    SCOPED_TRACE(method);
    const int rank = method.find("arhq") != std::string::npos || method == "svdquant" ? 4 : 0;
    const W4a4Result r = run(s, method, "nvfp4", rank);
    const std::vector<float> logits = logits_of(r.model, tokens);
    for (float x : logits) ASSERT_TRUE(std::isfinite(x));
    const bool smooth = method.find("smooth") != std::string::npos;
    const double extra = static_cast<double>(rank * m_plus_n + (smooth ? 3 * c.dim + c.q_dim() + 2 * c.dim + c.hidden_dim : 0));
    EXPECT_NEAR(r.summary["extra_params_pct"].get<double>(), 100.0 * extra / static_cast<double>(mn), 1e-9);
    EXPECT_GT(r.summary["bits_per_weight"].get<double>(), nvfp4_bits);
    EXPECT_EQ(r.diagnostics.size(), static_cast<size_t>(c.n_layers) * 7);
    EXPECT_EQ(act_linear(r.model, 1, model::Proj::Down).rank(), rank);
  }
}

// GPTQ on the residual weight, for each weight format it supports (INT, MXFP4, NVFP4): the packed model
// decodes to exactly what the solver produced (make_quantized_linear checks it bit for bit) and the
// model runs. The per-layer SNR is not compared with RTN: GPTQ minimizes the weight-side error
// tr(dW H dW^T), not the W4A4 output error.
TEST(W4a4, GptqOnTheResidualPacksForIntAndMxfp4) {
  Stories s;
  const std::vector<int> tokens = probe_tokens(s);
  for (const char* f : {"int4", "mxfp4", "nvfp4"})
    for (const char* method : {"gptq", "quarot+gptq", "arhq+gptq"}) {
      SCOPED_TRACE(std::string(method) + " " + f);
      const W4a4Result r = run(s, method, f, std::string(method) == "arhq+gptq" ? 4 : 0);
      for (float x : logits_of(r.model, tokens)) ASSERT_TRUE(std::isfinite(x));
    }
}

TEST(W4a4, LowRankBranchRaisesTheLayerSnr) {
  Stories s;
  const W4a4Result rtn = run(s, "rtn", "nvfp4", 0), arhq = run(s, "arhq", "nvfp4", 8), svd = run(s, "svdquant", "nvfp4", 8);
  const double base = rtn.summary["mean"]["all"]["snr_db"].get<double>();
  EXPECT_GT(arhq.summary["mean"]["all"]["snr_db"].get<double>(), base + 1.0);
  EXPECT_GT(svd.summary["mean"]["all"]["snr_db"].get<double>(), base);
}

TEST(W4a4, QuantizedRotationPathKeepsTheModel) {
  Stories s;
  const std::vector<int> tokens = probe_tokens(s);
  const std::vector<float> ref = logits_of(s.m, tokens);
  const W4a4Result r = run(s, "quarot+rtn", "int8", 0);
  EXPECT_FALSE(r.rotation.is_null());
  // down_proj keeps its online Hadamard around the quantized layer.
  const auto* had = dynamic_cast<const model::HadamardLinear*>(&r.model.layers[0].linear(model::Proj::Down));
  ASSERT_NE(had, nullptr);
  EXPECT_NE(dynamic_cast<const model::ActQuantLinear*>(had->inner().get()), nullptr);
  // W8A8 on the rotated model: the logits stay close to the float model's. A rotation applied on one
  // side only (weights vs inputs) would scramble them; 8-bit noise moves them by ~1% of their range.
  constexpr double kW8A8RelTol = 0.05;
  EXPECT_LE(max_abs_diff(logits_of(r.model, tokens), ref), kW8A8RelTol * max_abs(ref));
  // The down_proj calibration inputs were rotated like the run-time ones: its SNR is 8-bit-like.
  EXPECT_GT(r.diagnostics.at("model.layers.0.mlp.down_proj")["snr_db"].get<double>(), 30.0);
}

TEST(W4a4, SequentialCalibrationSeesTheQuantizedBlocks) {
  Stories s;
  const W4a4Result seq = run(s, "arhq", "nvfp4", 4), flt = run(s, "arhq", "nvfp4", 4, false, false);
  // Block 0 sees the same inputs either way; later blocks do not.
  const auto& a0 = act_linear(seq.model, 0, model::Proj::Q), &b0 = act_linear(flt.model, 0, model::Proj::Q);
  EXPECT_EQ(a0.residual()->packed().codes, b0.residual()->packed().codes);
  const auto& a3 = act_linear(seq.model, 3, model::Proj::Q), &b3 = act_linear(flt.model, 3, model::Proj::Q);
  const float* A = a3.lowrank()->A.ptr();
  const float* B = b3.lowrank()->A.ptr();
  EXPECT_FALSE(std::equal(A, A + a3.lowrank()->A.numel(), B));
}

TEST(W4a4, AllocatedRanksStayWithinTheBudget) {
  Stories s;
  const W4a4Result r = run(s, "arhq", "nvfp4", 8, false, true, true);
  const auto& a = r.summary["allocation"];
  EXPECT_LE(a["used_params"].get<int64_t>(), a["budget_params"].get<int64_t>());
  int64_t used = 0;
  for (int l = 0; l < s.m.cfg.n_layers; ++l)
    for (model::Proj p : model::kAllProjs) {
      const auto& lin = act_linear(r.model, l, p);
      used += static_cast<int64_t>(lin.rank()) * (lin.out_features() + lin.in_features());
    }
  EXPECT_EQ(used, a["used_params"].get<int64_t>());
}

}  // namespace hessq::pipeline
