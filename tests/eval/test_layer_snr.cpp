// The layer-wise SNR study of one linear (eval/layer_snr.hpp) and its writers (eval/snr_report.hpp):
// SNRs against an independent double-precision recomputation, rank 0 = baseline / SmoothQuant, the
// rank policy, bad names and NaN activations, the allocation budget, and the report formats.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hessq/core/error.hpp"
#include "hessq/eval/layer_snr.hpp"
#include "hessq/eval/snr_report.hpp"
#include "methods/arhq_test_problem.hpp"

namespace hessq {
namespace {

using Md = Eigen::MatrixXd;

class LayerSnrTest : public ::testing::Test {
 protected:
  test::LayerProblem p = test::layer_problem(3, 64, 128, 384, 192);
  eval::LinearCase c{2, "q_proj", &p.W, &p.X_calib, &p.X_eval};
  eval::SnrStudyOptions opt() const {
    eval::SnrStudyOptions o;
    o.formats = {methods::parse_layer_format("nvfp4")};
    o.ranks = {0, 8};
    o.refine_iters = 1;
    return o;
  }
  static const eval::SnrRecord* find(const eval::LinearStudy& st, const std::string& method, const std::string& setting,
                                     int rank) {
    for (const auto& r : st.records)
      if (r.method == method && r.setting == setting && r.rank == rank) return &r;
    return nullptr;
  }
};

// 20 log10(||Y|| / ||Y_hat - Y||) with Y = X W^T in double.
double snr_oracle(const methods::MatF& X, const methods::MatF& W, const Md& Y_hat) {
  const Md Y = X.cast<double>() * W.cast<double>().transpose();
  return 20 * std::log10(Y.norm() / (Y_hat - Y).norm());
}

constexpr double kSnrTol = 1e-3;  // dB; fp32 GEMM in the study vs double in the oracle

TEST_F(LayerSnrTest, BaselineAndArhqMatchAnIndependentRecomputation) {
  const auto st = eval::study_linear(c, opt());
  const auto options = opt();  // opt() returns by value: hold it, or f dangles
  const auto& f = options.formats[0];
  const Md Qx = methods::fake_quant_padded(f.x, p.X_eval).cast<double>();
  const auto* base = find(st, "baseline", "raw", 0);
  ASSERT_TRUE(base);
  EXPECT_NEAR(base->snr_db, snr_oracle(p.X_eval, p.W, Qx * methods::fake_quant_padded(f.w, p.W).cast<double>().transpose()),
              kSnrTol);
  methods::ArhqOptions ao;
  ao.rank = 8;
  const auto s = methods::solve_arhq(p.W, methods::residual_hessian(p.X_calib, f.x), ao);
  const Md Y_hat = Qx * methods::fake_quant_padded(f.w, s.W_res).cast<double>().transpose() +
                   p.X_eval.cast<double>() * s.A.cast<double>() * s.B.cast<double>().transpose();
  const auto* arhq = find(st, "arhq", "raw", 8);
  ASSERT_TRUE(arhq);
  EXPECT_NEAR(arhq->snr_db, snr_oracle(p.X_eval, p.W, Y_hat), kSnrTol);
  EXPECT_NEAR(arhq->gain_db, arhq->snr_db - base->snr_db, 1e-12);
  EXPECT_EQ(arhq->extra_params, 8 * (64 + 128));
  EXPECT_NEAR(arhq->extra_params_pct, 100.0 * 8 * 192 / (64 * 128), 1e-12);
  EXPECT_GT(arhq->gain_db, 0);  // a rank-8 branch helps this outlier-heavy layer
}

TEST_F(LayerSnrTest, RankZeroIsTheBaselineOrSmoothQuant) {
  const auto st = eval::study_linear(c, opt());
  const auto *base = find(st, "baseline", "raw", 0), *sq = find(st, "smoothquant", "smooth", 0);
  ASSERT_TRUE(base && sq);
  for (const char* m : {"svdquant", "arhq", "arhq-h"}) {
    ASSERT_TRUE(find(st, m, "raw", 0) && find(st, m, "smooth", 0)) << m;
    EXPECT_EQ(find(st, m, "raw", 0)->snr_db, base->snr_db) << m;
    EXPECT_EQ(find(st, m, "smooth", 0)->snr_db, sq->snr_db) << m;
  }
  EXPECT_TRUE(std::isfinite(sq->alpha));
  for (const char* m : {"arhq+refine", "arhq-rsvd"}) EXPECT_TRUE(find(st, m, "raw", 8)) << m;
}

TEST_F(LayerSnrTest, RankPolicy) {
  auto o = opt();
  o.ranks = {8, 64};  // 64 = min(m, n): skipped with a note
  o.extras.clear();
  const auto st = eval::study_linear(c, o);
  EXPECT_EQ(st.skipped.size(), 1u);
  EXPECT_FALSE(find(st, "arhq", "raw", 64));
  const test::LayerProblem big = test::layer_problem(5, 96, 128, 16, 16);
  const eval::LinearCase cb{2, "gate_proj", &big.W, &big.X_calib, &big.X_eval};
  EXPECT_NO_THROW(eval::check_ranks({c, cb}, o));  // 64 fits gate_proj; q_proj skips it
  EXPECT_THROW(eval::check_ranks({c}, o), Error);  // no linear can use rank 64
  o.ranks = {65};
  EXPECT_THROW(eval::check_ranks({c, cb}, o), Error);  // larger than q_proj's matrix
  o.skip_large_ranks = true;
  EXPECT_NO_THROW(eval::check_ranks({c, cb}, o));
  o.ranks = {200};
  EXPECT_THROW(eval::check_ranks({c, cb}, o), Error);  // larger than every matrix
}

TEST_F(LayerSnrTest, BadInputIsNamed) {
  auto o = opt();
  o.methods = {"arhq", "gptq-ish"};
  EXPECT_THROW(eval::validate(o), Error);
  o = opt();
  o.settings = {"rotated"};
  EXPECT_THROW(eval::validate(o), Error);
  o = opt();
  o.formats.clear();
  EXPECT_THROW(eval::validate(o), Error);
  test::LayerProblem q = p;
  q.X_eval(5, 7) = std::numeric_limits<float>::quiet_NaN();
  const eval::LinearCase bad{4, "down_proj", &q.W, &q.X_calib, &q.X_eval};
  try {
    eval::study_linear(bad, opt());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 4 down_proj held-out activations"), std::string::npos) << e.what();
  }
}

TEST_F(LayerSnrTest, AllocationStaysWithinTheUniformBudget) {
  const test::LayerProblem p2 = test::layer_problem(4, 32, 128, 384, 192);
  const eval::LinearCase c2{2, "k_proj", &p2.W, &p2.X_calib, &p2.X_eval};
  auto o = opt();
  o.ranks = {8};
  o.settings = {"raw"};
  o.extras = {"alloc"};
  const std::vector<eval::LinearStudy> studies = {eval::study_linear(c, o), eval::study_linear(c2, o)};
  EXPECT_EQ(eval::allocation_grid({8}, 64), (std::vector<int>{0, 2, 4, 6, 8, 12, 16, 24, 32}));
  const auto alloc = eval::allocation_records(studies, o);
  ASSERT_EQ(alloc.size(), 2u);
  int64_t used = 0;
  for (const auto& r : alloc) {
    EXPECT_EQ(r.method, "arhq-alloc");
    EXPECT_EQ(r.budget_rank, 8);
    used += r.extra_params;
  }
  EXPECT_LE(used, 8 * (64 + 128) + 8 * (32 + 128));
}

TEST_F(LayerSnrTest, ReportFormats) {
  auto o = opt();
  o.extras.clear();
  const auto st = eval::study_linear(c, o);
  const auto j = nlohmann::json::parse(eval::snr_records_json(st.records));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), st.records.size());
  for (const auto& r : j)
    for (const char* key : {"layer", "proj", "method", "setting", "rank", "format", "snr_db"}) EXPECT_TRUE(r.contains(key)) << key;
  const std::string csv = eval::snr_csv(st.records);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), static_cast<long>(st.records.size()) + 1);
  const std::string md = eval::snr_markdown(st.records, "t", "hessq snr ...");
  EXPECT_NE(md.find("| rank | linears |"), std::string::npos);
  EXPECT_NE(md.find("ARHQ − SVDQuant"), std::string::npos);
  const std::string svg = eval::snr_chart_svg(st.records, "nvfp4");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("arhq raw"), std::string::npos);
}

}  // namespace
}  // namespace hessq
