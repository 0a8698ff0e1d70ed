// The streaming driver: block statistics against independent computations, the O(L) sequential
// calibration against the quadratic reference (block k calibrated by running blocks 0..k of the
// partly quantized model from the tokens, as the previous driver did), block forwards against their
// formula, AWQ folding leaves the float model unchanged, diagnostics present.
#include <gtest/gtest.h>

#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/model/quantized_linear.hpp"
#include "hessq/pipeline/block_passes.hpp"
#include "hessq/pipeline/block_stats.hpp"
#include "hessq/pipeline/driver.hpp"
#include "hessq/pipeline/matrix_util.hpp"
#include "hessq/pipeline/solve_linear.hpp"
#include "pipeline/pipeline_util.hpp"
#include "pipeline/stories_fixture.hpp"
#include "transforms/tiny_model.hpp"

namespace hessq::pipeline {

using test::Stories;

namespace {

// Relative error of accumulated double statistics vs a naive double loop over the same floats: the
// two sum in different orders; 1e-9 is far above double round-off for ~500 tokens and far below
// any real disagreement.
constexpr double kStatsRelTol = 1e-9;
// AWQ folding multiplies weights by s and norms by 1/s in fp32: the logits move by float rounding
// only. The bound: <= 1e-4 relative to the largest logit.
constexpr double kFoldRelTol = 1e-4;

// The calibration windows' embeddings as hidden states entering block 0.
HiddenStates embedded(const model::Model& m, const calib::Windows& w) {
  HiddenStates hs(static_cast<int64_t>(w.calib.size()), w.window, m.cfg.dim, io::DType::F32);
  std::vector<float> x(static_cast<size_t>(w.window) * m.cfg.dim);
  for (size_t i = 0; i < w.calib.size(); ++i) {
    for (int t = 0; t < w.window; ++t)
      std::copy_n(m.tok_emb.ptr() + static_cast<size_t>(w.calib[i][t]) * m.cfg.dim, m.cfg.dim, &x[t * m.cfg.dim]);
    hs.write(static_cast<int64_t>(i), x.data());
  }
  return hs;
}

// Block `layer`'s statistics computed the quadratic way: every window runs blocks 0..layer of `m`
// from its tokens (model::Transformer with a hook), per distinct input.
std::array<calib::Stats, 4> quadratic_stats(const model::Model& m, int layer, const calib::Windows& w) {
  std::array<calib::Stats, 4> st;
  for (model::InputKind k : model::kAllInputs) st[model::input_index(k)] = calib::Stats(model::input_features(m.cfg, k));
  model::Transformer tr(m, w.window);
  tr.set_stop_after(layer);
  tr.set_hook([&](const model::LinearId& id, const float* x, int n) {
    if (id.layer != layer || !model::is_input_representative(id.proj)) return;
    calib::Stats& s = st[model::input_index(model::input_of(id.proj))];
    s.add(x, n, s.n);
  });
  for (const auto& win : w.calib) {
    tr.reset();
    tr.forward(win.data(), static_cast<int>(win.size()), false);
  }
  return st;
}

const model::QuantizedLinear& quantized(const model::Model& m, int l, model::Proj p) {
  return dynamic_cast<const model::QuantizedLinear&>(m.layers[l].linear(p));
}

}  // namespace

// Block 0's attention input is rmsnorm(embedding) * attn_norm: computable without the transformer.
TEST(Driver, Block0StatisticsMatchNaiveComputation) {
  Stories s;
  const calib::Windows w = s.windows(512, 128, 0);
  const HiddenStates hs = embedded(s.m, w);
  int64_t forwards = 0;
  const BlockCalib bc = collect_block_stats(s.m.cfg, s.m.layers[0], 0, hs, hs.windows(), {}, forwards);
  EXPECT_EQ(forwards, hs.windows());
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
  const calib::Stats& st = bc.st[model::input_index(model::InputKind::Attn)];
  EXPECT_EQ(st.N, N);
  EXPECT_LE((st.XtX - XtX).norm() / XtX.norm(), kStatsRelTol);
}

// Stored hidden states advanced block by block give block k the inputs the whole model gives it: the
// same block_forward on the same floats and shapes, so the statistics are identical bit for bit.
TEST(Driver, AdvancedStatesGiveTheInputsOfTheWholeModel) {
  Stories s;
  const calib::Windows w = s.windows(512, 128, 0);
  HiddenStates hs = embedded(s.m, w);
  int64_t forwards = 0;
  const int layer = 2;
  for (int l = 0; l < layer; ++l) advance_stream(s.m.cfg, s.m.layers[l], l, hs, hs.windows(), forwards);
  const BlockCalib bc = collect_block_stats(s.m.cfg, s.m.layers[layer], layer, hs, hs.windows(), {}, forwards);
  const std::array<calib::Stats, 4> ref = quadratic_stats(s.m, layer, w);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bc.st[i].XtX, ref[i].XtX) << i;
}

// The O(L) pipeline against the quadratic reference on a 2-layer model: block k's weights are solved
// from statistics gathered by running the partly quantized model (sequential) or the float model
// (float inputs) from the tokens, with the same block passes and solver. The codes must agree.
TEST(Driver, StreamingMatchesTheQuadraticCalibration) {
  const model::Model m = test::tiny_model(test::tiny_config(64, 128, 4, 2, 16), 5);
  calib::Windows w;
  w.window = 16;
  for (int i = 0; i < 4; ++i) {
    std::vector<int> win;
    for (int t = 0; t < 16; ++t) win.push_back((7 * i + 5 * t + t * t) % 64);
    w.calib.push_back(win);
  }
  for (const char* method : {"gptq", "awq"})
    for (bool sequential : {true, false}) {
      SCOPED_TRACE(std::string(method) + (sequential ? " sequential" : " float inputs"));
      Recipe r = test::recipe(method, "", 0, false, "int4-asym-g32");
      r.sequential = sequential;
      const test::Run run = test::run_pipeline(m, r, w);
      model::Model partial = m;  // blocks < k replaced by the reference's quantized blocks when sequential
      for (int l = 0; l < m.cfg.n_layers; ++l) {
        std::array<calib::Stats, 4> st = quadratic_stats(sequential ? partial : m, l, w);
        BlockCalib bc;
        bc.st = st;
        BlockWork work = begin_block(m.layers[l], l, m.cfg);
        run_block_passes(work, bc, r, m.cfg, l);
        for (model::Proj p : model::kAllProjs) {
          const int pi = model::proj_index(p);
          const linalg::Mat H = bc.st[model::input_index(model::input_of(p))].H();
          LinearProblem prob;
          prob.name = model::linear_name(l, p);
          prob.W = &work.W[pi];
          prob.W_ref = &work.ref(pi);
          prob.bias = work.bias[pi];
          prob.H = &H;
          const LinearSolution sol = solve_linear(prob, r);
          const auto& expect = dynamic_cast<const model::QuantizedLinear&>(*sol.linear);
          EXPECT_EQ(quantized(run.model, l, p).packed().codes, expect.packed().codes) << prob.name;
          EXPECT_EQ(quantized(run.model, l, p).packed().scales, expect.packed().scales) << prob.name;
          partial.layers[l].linear(p) = sol.linear;
        }
        partial.layers[l].attn_norm = work.attn_norm;
        partial.layers[l].ffn_norm = work.ffn_norm;
      }
    }
}

TEST(Driver, BlockForwardsFollowTheFormula) {
  Stories s;
  const calib::Windows w = s.windows(512, 128, 256);
  struct Case {
    const char* method;
    const char* format;
    int rank;
    bool smooth, alloc, sequential;
  };
  for (const Case& c : {Case{"gptq", "", 0, false, false, true}, Case{"gptq", "", 0, false, false, false},
                        Case{"arhq", "nvfp4", 4, true, false, true}, Case{"arhq", "nvfp4", 4, false, true, true}}) {
    SCOPED_TRACE(c.method + std::string(c.smooth ? " smooth" : "") + (c.alloc ? " alloc" : ""));
    Recipe r = test::recipe(c.method, c.format, c.rank, c.smooth, c.format[0] ? "" : "int4-asym-g32");
    if (c.alloc) r.passes[r.passes.size() - 2].branch.alloc = true;
    r.sequential = c.sequential;
    const test::Run run = test::run_pipeline(s.m, r, w);
    EXPECT_EQ(run.report.block_forwards,
              expected_block_forwards(r, s.m.cfg.n_layers, static_cast<int64_t>(w.calib.size()),
                                      static_cast<int64_t>(w.heldout.size())));
  }
  // 5 blocks, 4 calibration + 2 held-out windows, sequential gptq: 5 x 6 statistics + 4 x 6 advances.
  EXPECT_EQ(expected_block_forwards(test::recipe("gptq", "", 0, false, "int4"), 5, 4, 2), 54);
}

TEST(Driver, SequentialAndFloatInputsDifferAfterBlock0) {
  Stories s;
  const calib::Windows w = s.windows();
  Recipe seq = test::recipe("gptq", "", 0, false, "int3-asym");
  Recipe flt = seq;
  flt.sequential = false;
  const test::Run a = test::run_pipeline(s.m, seq, w), b = test::run_pipeline(s.m, flt, w);
  // Block 0 sees the embeddings either way; later blocks see quantized vs float activations.
  EXPECT_EQ(quantized(a.model, 0, model::Proj::Q).packed().codes, quantized(b.model, 0, model::Proj::Q).packed().codes);
  EXPECT_NE(quantized(a.model, 3, model::Proj::Q).packed().codes, quantized(b.model, 3, model::Proj::Q).packed().codes);
  EXPECT_EQ(a.diagnostics.size(), 35u);
  EXPECT_NE(dynamic_cast<const model::DenseLinear*>(s.m.layers[0].q.get()), nullptr);  // the source is untouched
  const auto& d = a.diagnostics.at("model.layers.1.mlp.down_proj");
  EXPECT_GT(d["loss"].get<double>(), 0);
  EXPECT_GT(d["loss_rel_heldout"].get<double>(), 0);
  EXPECT_FALSE(d.contains("padded_in"));  // per channel: no padding
}

TEST(Driver, AwqFoldingLeavesFloatLogitsUnchanged) {
  Stories s;
  const calib::Windows w = s.windows(512, 128, 0);
  const Recipe r = test::recipe("awq", "", 0, false, "int3-asym-g32");
  model::Model folded = s.m;
  HiddenStates hs = embedded(s.m, w);
  int64_t forwards = 0;
  double max_alpha = 0;
  for (int l = 0; l < s.m.cfg.n_layers; ++l) {
    BlockCalib bc = collect_block_stats(s.m.cfg, s.m.layers[l], l, hs, hs.windows(), {}, forwards);
    BlockWork work = begin_block(s.m.layers[l], l, s.m.cfg);
    run_block_passes(work, bc, r, s.m.cfg, l);
    for (model::Proj p : model::kAllProjs) {
      const int pi = model::proj_index(p);
      folded.layers[l].linear(p) = std::make_shared<model::DenseLinear>(to_tensor(work.W[pi]), work.bias[pi]);
      max_alpha = std::max(max_alpha, work.diag[pi]["awq"].value("alpha", 0.0));
    }
    folded.layers[l].attn_norm = work.attn_norm;
    folded.layers[l].ffn_norm = work.ffn_norm;
    advance_stream(s.m.cfg, s.m.layers[l], l, hs, hs.windows(), forwards);
  }
  EXPECT_GT(max_alpha, 0);  // the transform did something
  EXPECT_NE(folded.layers[1].attn_norm.ptr()[0], s.m.layers[1].attn_norm.ptr()[0]);
  const std::vector<int> tokens = s.tok->encode("Once upon a time, there was a little dog named Max.", true);
  const std::vector<float> a = test::logits_of(s.m, tokens), b = test::logits_of(folded, tokens);
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
  const test::Run run = test::run_pipeline(s.m, r, w);
  const auto& d = run.diagnostics.at("model.layers.0.mlp.down_proj");
  EXPECT_EQ(d["padded_in"], 192);  // 172 inputs, zero-padded to 6 groups of 32
  const auto& o = d["osaq"];
  EXPECT_GE(o["K"].get<int>(), 1);
  EXPECT_EQ(o["output_ratio_on"], "heldout");
  EXPECT_TRUE(o["output_ratio"].is_number());
  EXPECT_GE(o["null_space_angles"]["count"].get<int>(), 1);  // from the two halves of the windows
  const auto& q = quantized(run.model, 0, model::Proj::Down);
  EXPECT_EQ(q.stored_in_features(), 192);
  EXPECT_EQ(q.in_features(), 172);

  Recipe no_pad = r;
  no_pad.passes[1].pad = false;
  try {
    check_recipe_fits(no_pad, s.m.cfg);
    FAIL() << "group 32 accepted for 172 inputs without padding";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("down_proj [64, 172] in every layer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("group 32 does not divide its 172 inputs"), std::string::npos) << e.what();
  }
}

}  // namespace hessq::pipeline
