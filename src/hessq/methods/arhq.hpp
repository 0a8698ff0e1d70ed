// ARHQ, Activation Residual Hessian Quantization (METHODS.md "ARHQ"): a rank-r branch L = B A^T,
// chosen so that activation quantization error propagates least through the residual weight. With
// E = X - Q_x(X) and G = E^T E / N (the activation residual Hessian),
//   minimize ||E (W - L)^T||_F^2 = N tr((W - L) G (W - L)^T)   over rank(L) <= r,
// solved exactly by an SVD in the metric G:  M = W G^(1/2) ~ U_r S_r V_r^T,  B = U_r S_r,
// A = G^(-1/2) V_r.  Inference: Y_hat = Q_x(X) Q_w(W - L)^T + (X A) B^T, the branch in fp32.
// SVDQuant (Li et al. 2024, arXiv:2411.05007) is the same pipeline with G = I (svdquant.hpp).
//
// [choice] eigenvalue clamp: l_i >= eps; relative eps = 1e-6 * max(l) by default, absolute 1e-6 (the
//   reference code's) with ArhqOptions::eps_relative = false (CLI --arhq-eps-abs E).
// [choice] the roots G^(+-1/2) are never formed: with G = U diag(l) U^T, M = W G^(1/2) has the SVD
//   of M' = W U diag(sqrt l) rotated by U^T, so  M' = P S Q^T  gives  B = P_r S_r,
//   A = U diag(1/sqrt l) Q_r  (the same B, A; two n^3 products fewer).
// [choice] SVD: exact (LAPACK gesdd) or randomized (Halko et al. 2011; ArhqOptions::svd); for the exact
//   SVD the solutions of every rank <= r are prefixes of the rank-r one (truncate_rank).
// [choice] rank: r > min(m, n) throws; r = min(m, n) is allowed (L = W when G is not clamped, so
//   W - L ~ 0); r = 0 gives L = 0 (the plain quantized layer).
//   A G whose eigenvalues are all <= 0 (e.g. Q_x is lossless on the calibration set) throws.
#pragma once
#include <cstdint>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::methods {

enum class SvdKind { Exact, Randomized };
const char* svd_kind_name(SvdKind k);  // "exact", "randomized"

struct ArhqOptions {
  int rank = 128;
  double eps = 1e-6;          // eigenvalue clamp of the metric
  bool eps_relative = true;   // eps * max(l) (default) or eps itself
  SvdKind svd = SvdKind::Exact;
  int oversample = 10;        // randomized SVD only
  int power_iters = 2;        // randomized SVD only
  uint64_t seed = 0;          // randomized SVD only
};

struct ArhqTimings {
  double eigh_s = 0;  // eigendecomposition of the metric
  double svd_s = 0;   // (truncated) SVD of M'
  double rest_s = 0;  // forming M', A, B and W - L
  double total() const { return eigh_s + svd_s + rest_s; }
};

// The metric's eigendecomposition with clamped eigenvalues, reusable across ranks and SVD kinds.
struct Metric {
  bool identity = false;  // G = I: no eigendecomposition, M = W
  linalg::Mat U;          // [n, n] eigenvectors (columns)
  linalg::Vec l;          // [n] clamped eigenvalues, ascending
  int clamped = 0;        // eigenvalues raised to the floor
  double floor = 0;       // the clamp actually applied
  double eigh_s = 0;
  int64_t n = 0;
};
Metric identity_metric(int64_t n);
// Steps 1-2: eigendecomposition of the symmetric PSD `G` [n, n] and the clamp.
Metric make_metric(const linalg::Mat& G, double eps, bool relative);

struct ArhqResult {
  MatF A;      // [n, r]
  MatF B;      // [m, r], L = B A^T
  MatF W_res;  // [m, n], W - L
  linalg::Vec S;  // [r] singular values of M (the branch's energy in the metric)
  ArhqTimings time;
  int clamped = 0;
  SvdKind svd = SvdKind::Exact;
};

// Step 3 alone: M' = W U diag(sqrt l) ([m, n], double; W itself for the identity), so several solves
// of one weight in one metric (ranks, SVD kinds) can share it.
struct MetricWeight {
  linalg::Mat M;
  double seconds = 0;  // time to form it, charged to every solve that uses it (time.rest_s)
};
MetricWeight metric_weight(const MatF& W, const Metric& G);

// Steps 3-5 for a given metric (time.eigh_s is copied from the metric).
ArhqResult solve_lowrank(const MatF& W, const Metric& G, const ArhqOptions& opt);
// Steps 4-5 with M' already formed by metric_weight(W, G).
ArhqResult solve_lowrank(const MatF& W, const Metric& G, const MetricWeight& MW, const ArhqOptions& opt);
// The whole method: make_metric(G) then solve_lowrank.
ArhqResult solve_arhq(const MatF& W, const linalg::Mat& G, const ArhqOptions& opt);
// The rank-r solution from the first r columns of an exact solution of rank >= r.
ArhqResult truncate_rank(const ArhqResult& full, const MatF& W, int r);

// W - B A^T computed in double from the stored fp32 factors (so W_res + L reproduces W).
MatF lowrank_residual(const MatF& W, const MatF& A, const MatF& B);

// X^T X / N for X [N, n] accumulated in double (BLAS syrk over blocks of rows). Throws on NaN/Inf.
linalg::Mat second_moment(const MatF& X);
// Step 1: G = E^T E / N with E = X - Q_x(X) over the calibration tokens X [N, n], in double.
linalg::Mat residual_hessian(const MatF& X_calib, const formats::QuantSpec& x_spec);
// arhq-h: H_res = H + mult * beta * G, beta = mean(diag H) / mean(diag G) (mult default 16).
linalg::Mat arhq_h_metric(const linalg::Mat& H, const linalg::Mat& G, double mult);
// tr(R G R^T) for R [m, n] (the objective / N), in double.
double metric_objective(const MatF& R, const linalg::Mat& G);

}  // namespace hessq::methods
