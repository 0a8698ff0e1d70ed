// The layer-wise SNR study (METHODS.md "Evaluation" > "Layer SNR report", "ARHQ"): for one linear
// (W and its captured calibration / held-out inputs), every requested format, setting and rank, the
// held-out SNR_dB = 20 log10(||Y|| / ||Y_hat - Y||) of
//   baseline     Q_x(X) Q_w(W)^T                                      (rank 0, setting raw)
//   smoothquant  the same after smoothing with the searched alpha      (rank 0, setting smooth)
//   svdquant     Q_x(X) Q_w(W - L)^T + (X A) B^T, L the rank-r SVD of W
//   arhq         L the rank-r minimizer of ||E (W - L)^T||, G = E^T E / N
//   arhq-h       the same in the metric H + mult * beta * G
// in the raw or smoothed space (`setting`), plus the extras reported against plain ARHQ:
//   arhq+refine  quantization-aware refinement (methods/arhq_refine.hpp)
//   arhq-rsvd    ARHQ with a randomized SVD (accuracy vs the exact one in `extra`)
//   arhq-alloc   ranks allocated under the uniform-rank budget (methods/rank_allocation.hpp),
//                maximizing -sum of relative output noise ("nsr"); arhq-alloc-db maximizes mean dB
// [choice] smoothed settings reuse the alpha searched for SmoothQuant (without a branch).
// [choice] rank policy: r = min(m, n) makes the branch hold the whole weight, so such (linear, rank)
//   pairs are skipped (logged); r > min(m, n) is an error unless skip_large_ranks.
#pragma once
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "hessq/methods/arhq.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/smoothquant.hpp"

namespace hessq::eval {

using methods::MatF;

const std::vector<std::string>& snr_method_names();   // baseline, smoothquant, svdquant, arhq, arhq-h
const std::vector<std::string>& snr_extra_names();    // refine, rsvd, alloc
const std::vector<std::string>& snr_setting_names();  // raw, smooth

struct SnrStudyOptions {
  std::vector<methods::LayerFormat> formats;
  std::vector<int> ranks = {4, 8, 16};
  std::vector<std::string> methods = snr_method_names();
  std::vector<std::string> settings = snr_setting_names();
  std::vector<std::string> extras = snr_extra_names();  // only run when "arhq" is among the methods
  double arhq_h_mult = 16;
  double eps = 1e-6;
  bool eps_relative = true;
  methods::SmoothOptions smooth;
  int refine_iters = 3;
  int rsvd_oversample = 10;
  int rsvd_power_iters = 2;
  std::vector<std::string> alloc_objectives = {"nsr"};  // "nsr" -> arhq-alloc, "db" -> arhq-alloc-db
  int64_t search_tokens = 1024;  // calibration tokens for the alloc curves' SNR (0: all)
  bool skip_large_ranks = false;
  uint64_t seed = 0;

  bool has_method(const std::string& m) const;
  bool has_setting(const std::string& s) const;
  bool has_extra(const std::string& e) const;
};
// Throws naming the unknown method / setting / extra, an empty format list or a negative rank.
void validate(const SnrStudyOptions& opt);

struct SnrRecord {
  int layer = 0;
  std::string proj, method, setting, format;
  int rank = 0;
  int64_t m = 0, n = 0;
  double snr_db = 0;   // held-out tokens
  double gain_db = 0;  // snr_db - baseline snr_db of the same linear and format
  int64_t extra_params = 0;      // r (m + n)
  double extra_params_pct = 0;   // 100 r (m + n) / (m n)
  double alpha = std::numeric_limits<double>::quiet_NaN();  // smoothing alpha (smooth setting)
  double time_s = 0;             // the method's solve time for this linear (eigh + svd + rest, search)
  double eigh_s = 0, svd_s = 0, rest_s = 0;
  std::string svd;               // "exact" / "randomized" for low-rank methods
  int budget_rank = -1;          // arhq-alloc: the uniform rank whose budget was shared
  std::map<std::string, double> extra;  // method-specific numbers (clamped eigenvalues, refine, rsvd)
};

// ARHQ's held-out and calibration SNR at the allocation grid of ranks, for one format and setting.
struct RankPoint {
  int rank = 0;
  double cal_snr_db = 0, snr_db = 0;
};
struct AllocCurve {
  std::string format, setting;
  double base_snr_db = 0;  // the linear's baseline (held-out), for gains
  std::vector<RankPoint> points;
};

struct LinearStudy {
  int layer = 0;
  std::string proj;
  int64_t m = 0, n = 0;
  std::vector<SnrRecord> records;
  std::vector<AllocCurve> curves;
  std::vector<std::string> skipped;  // "rank 32 >= min(m, n)" notes
};

struct LinearCase {
  int layer = 0;
  std::string proj;
  const MatF* W = nullptr;        // [m, n]
  const MatF* X_calib = nullptr;  // [N_calib, n]
  const MatF* X_eval = nullptr;   // [N_eval, n]
};

// Throws if a requested rank exceeds min(m, n) of a linear (unless skip_large_ranks), naming it.
void check_ranks(const std::vector<LinearCase>& linears, const SnrStudyOptions& opt);

// The whole study of one linear. Throws naming layer/proj on NaN/Inf in W or the activations.
LinearStudy study_linear(const LinearCase& c, const SnrStudyOptions& opt);

// Ranks at which ARHQ is evaluated for the allocation: 0 and r0 * {1/4, 1/2, 3/4, 1, 3/2, 2, 3, 4}
// for each requested r0, below `limit` (= min(m, n)).
std::vector<int> allocation_grid(const std::vector<int>& ranks, int64_t limit);

// (b): for every objective, format, setting and requested rank r0, ranks allocated over the linears
// that ran ARHQ at r0, under the budget sum r0 (m + n); one "arhq-alloc" (objective nsr) or
// "arhq-alloc-db" record per linear.
std::vector<SnrRecord> allocation_records(const std::vector<LinearStudy>& studies, const SnrStudyOptions& opt);

}  // namespace hessq::eval
