#include "hessq/core/timer.hpp"
#include "hessq/eval/layer_snr.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "hessq/core/error.hpp"
#include "hessq/methods/arhq_refine.hpp"
#include "hessq/methods/rank_allocation.hpp"
#include "hessq/methods/svdquant.hpp"

namespace hessq::eval {

using methods::ArhqOptions;
using methods::ArhqResult;
using methods::LayerFormat;

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void check_names(const std::vector<std::string>& given, const std::vector<std::string>& known, const char* what) {
  for (const std::string& g : given)
    HESSQ_CHECK(contains(known, g), "unknown {} '{}'; accepted: {}", what, g, fmt::join(known, ", "));
}

// Held-out SNR of a split: Y_hat = Q_x(X) Q_w(W_res)^T + (X A) B^T.
struct Evaluator {
  const MatF& Y;
  const MatF& Qx;  // Q_x(X)
  const MatF& X;
  const LayerFormat& f;
  double operator()(const ArhqResult& s) const {
    MatF Y_hat = methods::matmul_nt(Qx, methods::fake_quant_padded(f.w, s.W_res));
    if (s.A.cols() > 0) Y_hat += methods::matmul_nt(X * s.A, s.B);
    return methods::snr_db(Y, Y_hat);
  }
};

// What every record of one linear, format and setting shares.
struct RecordBase {
  const LinearCase& c;
  int64_t m, n;
  const std::string& format;
  const std::string& setting;
  double alpha;
  double base_snr;  // the baseline's held-out SNR (format, raw)

  SnrRecord make(const std::string& method, int rank, double snr) const {
    SnrRecord r;
    r.layer = c.layer;
    r.proj = c.proj;
    r.method = method;
    r.setting = setting;
    r.format = format;
    r.rank = rank;
    r.m = m;
    r.n = n;
    r.snr_db = snr;
    r.extra_params = static_cast<int64_t>(rank) * (m + n);
    r.extra_params_pct = 100.0 * static_cast<double>(r.extra_params) / static_cast<double>(m * n);
    r.alpha = alpha;
    return r;
  }
  SnrRecord make(const std::string& method, int rank, double snr, const ArhqResult& s) const {
    SnrRecord r = make(method, rank, snr);
    r.eigh_s = s.time.eigh_s;
    r.svd_s = s.time.svd_s;
    r.rest_s = s.time.rest_s;
    r.time_s = s.time.total();
    r.svd = methods::svd_kind_name(s.svd);
    return r;
  }
};

// One setting's space: the weight and inputs the quantizers see (smoothed or not).
struct Space {
  const MatF& W;
  const MatF& X_calib;
  const MatF& X_eval;
};

struct Context {
  const LinearCase& c;
  const SnrStudyOptions& opt;
  const std::vector<int>& ranks;  // valid for this linear
  const std::vector<int>& grid;   // allocation grid (empty: no allocation)
  const MatF& Y;                  // X_eval W^T, raw
  const MatF& Y_cal;              // strided calibration tokens times W^T, raw
  LinearStudy& st;
};

void study_lowrank(const Context& cx, const LayerFormat& f, const RecordBase& rb, const Space& sp) {
  const SnrStudyOptions& opt = cx.opt;
  const bool svdq = opt.has_method("svdquant"), arhq = opt.has_method("arhq"), arhq_h = opt.has_method("arhq-h");
  if ((!svdq && !arhq && !arhq_h) || cx.ranks.empty()) return;
  const MatF Qx = methods::fake_quant_padded(f.x, sp.X_eval);
  const Evaluator ev{cx.Y, Qx, sp.X_eval, f};
  const int r_max = cx.ranks.empty() ? 0 : *std::max_element(cx.ranks.begin(), cx.ranks.end());
  ArhqOptions ao;
  ao.eps = opt.eps;
  ao.eps_relative = opt.eps_relative;
  ao.oversample = opt.rsvd_oversample;
  ao.power_iters = opt.rsvd_power_iters;
  ao.seed = opt.seed;
  if (svdq) {
    ao.rank = r_max;
    const ArhqResult full = methods::solve_svdquant(sp.W, ao);
    for (int r : cx.ranks) cx.st.records.push_back(rb.make("svdquant", r, ev(methods::truncate_rank(full, sp.W, r)), full));
  }
  if (!arhq && !arhq_h) return;
  // G = E^T E / N (methods::residual_hessian, with E kept for the rsvd objective check).
  auto t0 = Clock::now();
  const MatF E = sp.X_calib - methods::fake_quant_padded(f.x, sp.X_calib);
  const linalg::Mat G = methods::second_moment(E);
  const double stats_s = seconds_since(t0);
  // ||E R^T||_F^2 / N = tr(R G R^T), as an fp32 GEMM (N m n instead of m n^2 in double).
  auto objective = [&E](const MatF& R) {
    const MatF P = methods::matmul_nt(E, R);
    double sum = 0;
    for (Eigen::Index i = 0; i < P.size(); ++i) sum += static_cast<double>(P.data()[i]) * P.data()[i];
    return sum / static_cast<double>(E.rows());
  };
  if (arhq) {
    const methods::Metric metric = methods::make_metric(G, opt.eps, opt.eps_relative);
    ao.rank = std::max(r_max, cx.grid.empty() ? 0 : cx.grid.back());
    const methods::MetricWeight MW = methods::metric_weight(sp.W, metric);  // shared by the exact and rsvd solves
    const ArhqResult full = methods::solve_lowrank(sp.W, metric, MW, ao);
    for (int r : cx.ranks) {
      SnrRecord rec = rb.make("arhq", r, ev(methods::truncate_rank(full, sp.W, r)), full);
      rec.extra["clamped"] = metric.clamped;
      rec.extra["stats_s"] = stats_s;
      cx.st.records.push_back(rec);
    }
    if (!cx.grid.empty()) {  // (b): the curve the allocation reads
      const MatF X_cal = methods::strided_rows(sp.X_calib, opt.search_tokens);
      const MatF Qx_cal = methods::fake_quant_padded(f.x, X_cal);
      const Evaluator ev_cal{cx.Y_cal, Qx_cal, X_cal, f};
      AllocCurve curve{rb.format, rb.setting, rb.base_snr, {}};
      for (int r : cx.grid) {
        const ArhqResult s = methods::truncate_rank(full, sp.W, r);
        curve.points.push_back({r, ev_cal(s), ev(s)});
      }
      cx.st.curves.push_back(std::move(curve));
    }
    for (int r : cx.ranks) {
      if (r == 0) continue;
      const ArhqResult exact = methods::truncate_rank(full, sp.W, r);
      if (opt.has_extra("rsvd")) {  // (c): randomized SVD against the exact one
        ArhqOptions ar = ao;
        ar.rank = r;
        ar.svd = methods::SvdKind::Randomized;
        const ArhqResult s = methods::solve_lowrank(sp.W, metric, MW, ar);
        SnrRecord rec = rb.make("arhq-rsvd", r, ev(s), s);
        const double l_norm = (sp.W - exact.W_res).norm();
        rec.extra["l_rel_diff"] = l_norm > 0 ? (s.W_res - exact.W_res).norm() / l_norm : 0.0;
        rec.extra["objective_ratio"] = objective(s.W_res) / objective(exact.W_res);
        rec.extra["exact_svd_s"] = full.time.svd_s;
        cx.st.records.push_back(rec);
      }
      if (opt.has_extra("refine")) {  // (a): quantization-aware refinement
        methods::RefineOptions ro;
        ro.iters = opt.refine_iters;
        ro.lowrank = ao;
        const methods::RefineResult rr = methods::refine_arhq(sp.W, sp.X_calib, f, exact, ro);
        SnrRecord rec = rb.make("arhq+refine", r, ev(rr.best), full);
        rec.rest_s += rr.seconds;
        rec.time_s += rr.seconds;
        rec.extra["refine_s"] = rr.seconds;
        rec.extra["best_iter"] = rr.best_iter;
        rec.extra["cal_noise_ratio"] = rr.cal_noise[0] > 0 ? rr.cal_noise[rr.best_iter] / rr.cal_noise[0] : 1.0;
        cx.st.records.push_back(rec);
      }
    }
  }
  if (arhq_h) {
    t0 = Clock::now();
    const linalg::Mat H_res = methods::arhq_h_metric(methods::second_moment(sp.X_calib), G, opt.arhq_h_mult);
    const double h_s = seconds_since(t0);
    const methods::Metric metric = methods::make_metric(H_res, opt.eps, opt.eps_relative);
    ao.rank = r_max;
    ao.svd = methods::SvdKind::Exact;
    const ArhqResult full = methods::solve_lowrank(sp.W, metric, ao);
    for (int r : cx.ranks) {
      SnrRecord rec = rb.make("arhq-h", r, ev(methods::truncate_rank(full, sp.W, r)), full);
      rec.extra["clamped"] = metric.clamped;
      rec.extra["stats_s"] = stats_s + h_s;
      rec.extra["mult"] = opt.arhq_h_mult;
      cx.st.records.push_back(rec);
    }
  }
}

}  // namespace

const std::vector<std::string>& snr_method_names() {
  static const std::vector<std::string> k = {"baseline", "smoothquant", "svdquant", "arhq", "arhq-h"};
  return k;
}
const std::vector<std::string>& snr_extra_names() {
  static const std::vector<std::string> k = {"refine", "rsvd", "alloc"};
  return k;
}
const std::vector<std::string>& snr_setting_names() {
  static const std::vector<std::string> k = {"raw", "smooth"};
  return k;
}

bool SnrStudyOptions::has_method(const std::string& m) const { return contains(methods, m); }
bool SnrStudyOptions::has_setting(const std::string& s) const { return contains(settings, s); }
bool SnrStudyOptions::has_extra(const std::string& e) const { return contains(extras, e) && has_method("arhq"); }

void validate(const SnrStudyOptions& opt) {
  HESSQ_CHECK(!opt.formats.empty(), "no format requested (--format)");
  HESSQ_CHECK(!opt.methods.empty(), "no method requested (--methods)");
  check_names(opt.methods, snr_method_names(), "method");
  check_names(opt.settings, snr_setting_names(), "setting");
  check_names(opt.extras, snr_extra_names(), "extra");
  check_names(opt.alloc_objectives, {"nsr", "db"}, "allocation objective");
  for (int r : opt.ranks) HESSQ_CHECK(r >= 0, "ranks must be >= 0, got {}", r);
  const bool lowrank = opt.has_method("svdquant") || opt.has_method("arhq") || opt.has_method("arhq-h");
  HESSQ_CHECK(!lowrank || !opt.ranks.empty(), "low-rank methods need at least one rank (--ranks)");
  HESSQ_CHECK(!lowrank || !opt.settings.empty(), "low-rank methods need at least one setting (--settings raw,smooth)");
  HESSQ_CHECK(opt.arhq_h_mult >= 0, "--arhq-h-mult must be >= 0, got {}", opt.arhq_h_mult);
  HESSQ_CHECK(opt.eps > 0, "the ARHQ eigenvalue clamp must be > 0, got {}", opt.eps);
  HESSQ_CHECK(opt.refine_iters >= 0, "--refine-iters must be >= 0, got {}", opt.refine_iters);
}

void check_ranks(const std::vector<LinearCase>& linears, const SnrStudyOptions& opt) {
  for (int r : opt.ranks) {
    bool used = linears.empty() || r == 0;
    for (const LinearCase& c : linears) {
      const int64_t m = c.W->rows(), n = c.W->cols(), k = std::min(m, n);
      HESSQ_CHECK(r <= k || opt.skip_large_ranks,
                  "rank {} is larger than layer {} {} allows: its weight is [{}, {}], so rank <= min(m, n) = {}; "
                  "lower --ranks or pass --skip-large-ranks",
                  r, c.layer, c.proj, m, n, k);
      used = used || r < k;
    }
    HESSQ_CHECK(used, "rank {} is >= min(m, n) for every linear studied: a branch of that rank holds the whole weight", r);
  }
}

std::vector<int> allocation_grid(const std::vector<int>& ranks, int64_t limit) {
  static constexpr double kFactors[] = {0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0};
  std::set<int> g = {0};
  for (int r0 : ranks)
    for (double f : kFactors) {
      const int r = static_cast<int>(std::lround(r0 * f));
      if (r < limit) g.insert(r);
    }
  return {g.begin(), g.end()};
}

LinearStudy study_linear(const LinearCase& c, const SnrStudyOptions& opt) {
  HESSQ_CHECK(c.W && c.X_calib && c.X_eval, "layer {} {}: missing weight or activations", c.layer, c.proj);
  const MatF& W = *c.W;
  const int64_t m = W.rows(), n = W.cols(), k = std::min(m, n);
  const std::string who = fmt::format("layer {} {}", c.layer, c.proj);
  HESSQ_CHECK(c.X_calib->cols() == n && c.X_eval->cols() == n,
              "{}: activations have {} / {} channels, the weight [{}, {}] has {} inputs", who, c.X_calib->cols(),
              c.X_eval->cols(), m, n, n);
  HESSQ_CHECK(c.X_calib->rows() > 0 && c.X_eval->rows() > 0, "{}: no calibration or held-out tokens", who);
  methods::check_finite(W, who + " weight");
  methods::check_finite(*c.X_calib, who + " calibration activations");
  methods::check_finite(*c.X_eval, who + " held-out activations");

  LinearStudy st;
  st.layer = c.layer;
  st.proj = c.proj;
  st.m = m;
  st.n = n;
  std::vector<int> ranks;
  for (int r : opt.ranks) {
    if (r > 0 && r >= k) {
      st.skipped.push_back(fmt::format("rank {} >= min(m, n) = {}", r, k));
      continue;
    }
    if (std::find(ranks.begin(), ranks.end(), r) == ranks.end()) ranks.push_back(r);
  }
  std::vector<int> positive;
  for (int r : ranks)
    if (r > 0) positive.push_back(r);
  const std::vector<int> grid = opt.has_extra("alloc") ? allocation_grid(positive, k) : std::vector<int>{};
  const MatF Y = methods::matmul_nt(*c.X_eval, W);
  const MatF Y_cal = grid.empty() ? MatF() : methods::matmul_nt(methods::strided_rows(*c.X_calib, opt.search_tokens), W);
  const Context cx{c, opt, ranks, grid, Y, Y_cal, st};
  const std::string raw = "raw", smooth = "smooth";

  for (const LayerFormat& f : opt.formats) {
    const size_t first = st.records.size();
    // Baseline: Q_x(X) Q_w(W)^T.
    auto t0 = Clock::now();
    const double base =
        methods::snr_db(Y, methods::matmul_nt(methods::fake_quant_padded(f.x, *c.X_eval), methods::fake_quant_padded(f.w, W)));
    const RecordBase rb_raw{c, m, n, f.name, raw, std::numeric_limits<double>::quiet_NaN(), base};
    if (opt.has_method("baseline")) st.records.push_back(rb_raw.make("baseline", 0, base));
    // SmoothQuant: alpha searched on calibration tokens.
    std::optional<methods::SmoothResult> sm;
    double sm_s = 0;
    if (opt.has_method("smoothquant") || opt.has_setting("smooth")) {
      t0 = Clock::now();
      sm = methods::search_smoothing(W, *c.X_calib, f, opt.smooth);
      sm_s = seconds_since(t0);
    }
    std::optional<MatF> W_s, Xc_s, Xe_s;
    if (sm) {
      W_s = methods::smooth_weight(W, sm->s);
      Xc_s = methods::smooth_input(*c.X_calib, sm->s);
      Xe_s = methods::smooth_input(*c.X_eval, sm->s);
    }
    const RecordBase rb_smooth{c, m, n, f.name, smooth, sm ? sm->alpha : 0.0, base};
    if (opt.has_method("smoothquant")) {
      const double snr = methods::snr_db(
          Y, methods::matmul_nt(methods::fake_quant_padded(f.x, *Xe_s), methods::fake_quant_padded(f.w, *W_s)));
      SnrRecord rec = rb_smooth.make("smoothquant", 0, snr);
      rec.time_s = sm_s;
      cx.st.records.push_back(rec);
    }
    // Low-rank methods in each setting.
    for (const std::string& setting : opt.settings) {
      if (setting == raw)
        study_lowrank(cx, f, rb_raw, Space{W, *c.X_calib, *c.X_eval});
      else
        study_lowrank(cx, f, rb_smooth, Space{*W_s, *Xc_s, *Xe_s});
    }
    for (size_t i = first; i < st.records.size(); ++i) st.records[i].gain_db = st.records[i].snr_db - base;
  }
  return st;
}

std::vector<SnrRecord> allocation_records(const std::vector<LinearStudy>& studies, const SnrStudyOptions& opt) {
  std::vector<SnrRecord> out;
  if (!opt.has_extra("alloc")) return out;
  for (const std::string& objective : opt.alloc_objectives)
    for (const LayerFormat& f : opt.formats)
      for (const std::string& setting : opt.settings)
        for (int r0 : opt.ranks) {
          if (r0 <= 0) continue;
          std::vector<std::pair<const LinearStudy*, const AllocCurve*>> members;
          std::vector<methods::RankCurve> curves;
          int64_t budget = 0;
          for (const LinearStudy& st : studies)
            for (const AllocCurve& cv : st.curves) {
              if (cv.format != f.name || cv.setting != setting || r0 >= std::min(st.m, st.n)) continue;
              methods::RankCurve rc;
              rc.cost_per_rank = st.m + st.n;
              for (const RankPoint& p : cv.points) {
                rc.ranks.push_back(p.rank);
                // nsr: -||Y_hat - Y||^2 / ||Y||^2;  db: SNR in dB.
                rc.score.push_back(objective == "db" ? p.cal_snr_db : -std::pow(10.0, -p.cal_snr_db / 10));
              }
              members.push_back({&st, &cv});
              curves.push_back(std::move(rc));
              budget += static_cast<int64_t>(r0) * (st.m + st.n);
            }
          if (members.empty()) continue;
          const methods::RankAllocation a = methods::allocate_ranks(curves, budget);
          for (size_t i = 0; i < members.size(); ++i) {
            const LinearStudy& st = *members[i].first;
            double snr = 0;
            for (const RankPoint& p : members[i].second->points)
              if (p.rank == a.ranks[i]) snr = p.snr_db;
            SnrRecord rec;
            rec.layer = st.layer;
            rec.proj = st.proj;
            rec.method = objective == "db" ? "arhq-alloc-db" : "arhq-alloc";
            rec.setting = setting;
            rec.format = f.name;
            rec.rank = a.ranks[i];
            rec.m = st.m;
            rec.n = st.n;
            rec.snr_db = snr;
            rec.gain_db = snr - members[i].second->base_snr_db;
            rec.extra_params = static_cast<int64_t>(rec.rank) * (st.m + st.n);
            rec.extra_params_pct = 100.0 * static_cast<double>(rec.extra_params) / static_cast<double>(st.m * st.n);
            rec.budget_rank = r0;
            rec.svd = "exact";
            rec.extra["budget_params"] = static_cast<double>(a.budget);
            rec.extra["used_params"] = static_cast<double>(a.used);
            out.push_back(rec);
          }
        }
  return out;
}

}  // namespace hessq::eval
