// OSAQ, Outlier Self-Absorption (arXiv 2605.04738, "OSAQ: Outlier Self-Absorption for Accurate
// Low-bit LLM Quantization"; authors listed as Jing Zhang, Qingyi Gu, Xuewen Liu, Zhen Dong,
// Zhikai Li), METHODS.md "OSAQ".
//
// An additive change dW = B N^T built from directions N in which the layer input has (almost) no
// energy, so X dW^T ~ 0 (the float output is unchanged) while the outliers of W + dW shrink:
//   1. H = V diag(l) V^T, l ascending; K = the smallest k whose tail energy
//      sum_{i<=k} l_i >= gamma * sum_i l_i; N = V[:, :K] (n x K, orthonormal).
//   2. per row w_i: s_ij = softmax_j(|w_ij| / tau_i), tau_i = tau * max_j |w_ij| (a smooth max norm).
//   3. (N^T S_i N + mu1' I + mu2' v v^T) b_i = -N^T S_i w_i, S_i = diag(s_i), v = N^T 1.
//   4. dW row i = b_i^T N^T. The caller adds dW to W and quantizes with GPTQ, RTN or AWQ.
//
// [choice]s (OsaqOptions):
// - gamma = 1e-4, tau = 0.1 (METHODS.md defaults). Measured on seeded layers with an exact null
//   space (tests/methods/test_osaq.cpp, OutliersShrink): tau = 0.1 concentrates the softmax on a
//   few entries, which the solve zeroes at the expense of the rest, so with K << n the row max
//   grows (K = 8 of 128: mean row max 0.63 -> 0.85, 15 of 64 rows improve); tau = 0.3 lowers it
//   by 31..45% for K = 8..32 of 128 (54..55 of 64 rows improve).
// - mu1' = mu1 * tr(N^T S_i N) / K and mu2' = mu2 * tr(N^T S_i N) / K: both relative to the mean
//   diagonal of the row's system, so they do not depend on the scale of the softmax weights.
// - negative eigenvalues (round-off of a PSD H) count as zero energy in the K rule.
// - k_rule: Reach (METHODS.md, default) takes the eigenvalue that crosses gamma into N, so N always
//   holds at least gamma of the energy; Below stops before it (largest k with tail energy <= gamma),
//   so on a spectrum with a gap N is exactly the near-null space. Measured (tests KRuleReachTakes...
//   and HeldOutOutputUnchanged): with a gap, Reach gives K = null + 1 and a held-out output change
//   ||X dW^T|| / ||X W^T|| of 0.17; Below gives K = null and 1.4e-5..2.4e-5.
// - row_guard (off by default: METHODS.md has none): a row whose max |w| the change would raise keeps
//   its w (dw_i = 0). The softmax weights are fixed from w, so the solve does not see entries it
//   inflates; with near-dead (not exactly dead) input channels the null basis leaks ~1e-3 into live
//   coordinates and b_i ~ w / leak pushes the row max into the dead columns (docs/RESULTS.md "OSAQ
//   where its premise holds": max|W| 0.66 -> 3.75 on a stories260K down_proj with 43 near-dead
//   channels). The guard keeps only what OSAQ is for, rows whose outliers shrink.
// - rows with max |w| = 0 get dW = 0; K == 0 gives dW = 0 (the caller reports K).
// - rows are solved independently in double (OpenMP over rows, deterministic).
#pragma once
#include <vector>

#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::methods {

enum class OsaqKRule {
  Reach,  // smallest k with sum_{i<=k} l_i >= gamma * sum_i l_i (METHODS.md)
  Below,  // largest k with sum_{i<=k} l_i <= gamma * sum_i l_i
};

struct OsaqOptions {
  double gamma = 1e-4;  // tail energy fraction defining the null space
  double tau = 0.1;     // softmax temperature relative to the row's max |w|
  double mu1 = 1e-3;    // ridge, relative to tr(N^T S_i N) / K
  double mu2 = 1e-3;    // row-mean penalty, relative to tr(N^T S_i N) / K
  OsaqKRule k_rule = OsaqKRule::Reach;
  bool row_guard = false;  // keep a row's w when the change would raise its max |w|
};

struct OsaqResult {
  MatF dW;  // [m, n], W + dW is the weight to quantize
  int K = 0;
  int64_t rows_changed = 0;  // rows with dw_i != 0
  double maxabs_before = 0, maxabs_after = 0;          // max |W|, max |W + dW| over the matrix
  double row_maxabs_before = 0, row_maxabs_after = 0;  // mean over rows of max_j |w_ij|
};

// W: [m, n]; H: [n, n] = X^T X / N. Throws on shape mismatch, non-finite input or bad options.
OsaqResult solve_osaq(const MatF& W, const linalg::Mat& H, const OsaqOptions& opt = {});

// Steps 2-4 with a given orthonormal null basis N [n, K] (from osaq_null_space): linears sharing
// one input (q/k/v, gate/up) share H, so a caller can run the eigendecomposition once per input set.
// solve_osaq(W, H, opt) == solve_osaq_basis(W, osaq_null_space(H, opt.gamma, opt.k_rule), opt).
OsaqResult solve_osaq_basis(const MatF& W, const linalg::Mat& N, const OsaqOptions& opt = {});

// Step 1 alone: K from ascending eigenvalues, and the basis N = V[:, :K] of H's null space.
int osaq_null_dim(const linalg::Vec& eigenvalues_ascending, double gamma, OsaqKRule rule = OsaqKRule::Reach);
linalg::Mat osaq_null_space(const linalg::Mat& H, double gamma, OsaqKRule rule = OsaqKRule::Reach);

// sqrt(tr(dW H dW^T) / tr(W H W^T)) = ||X dW^T|| / ||X W^T|| for H_eval = X^T X / N (held-out X).
double output_change_ratio(const MatF& W, const MatF& dW, const linalg::Mat& H_eval);

// The output-change guard ([choice] of the osaq pass, pipeline/passes.hpp `max_ratio`, default
// kOsaqMaxRatio): with max_ratio > 0, a change whose calibration ratio ||X dW^T|| / ||X W^T|| exceeds
// max_ratio moves the output, so it is no absorption in a null space: the caller keeps W.
inline constexpr double kOsaqMaxRatio = 0.01;
bool osaq_guard_rejects(double ratio_calib, double max_ratio);

// Principal angles in radians, ascending, between the null spaces of H_a and H_b (each by the K
// rule above; min(K_a, K_b) angles, from the singular values of N_a^T N_b). Empty if either K is 0.
std::vector<double> null_space_angles(const linalg::Mat& H_a, const linalg::Mat& H_b, double gamma,
                                      OsaqKRule rule = OsaqKRule::Reach);

}  // namespace hessq::methods
