// HeRo-Q, the optimizer (METHODS.md "HeRo-Q", steps 1-3; the source text gives only a summary and no
// paper to cite): a learned orthogonal rotation R of the residual stream and positive per-channel
// scalings d, chosen to minimize the summed relative quantization loss of the linears reading the
// stream plus rho times their Hessians' log condition ratio. With rho = 0 and d = 1
// (spinquant_options) it is a SpinQuant-style learned rotation (Liu, Zhao, Fedorov, Soran,
// Choudhary, Krishnamoorthi, Chandra, Tian, Blankevoort 2024, "SpinQuant: LLM quantization with
// learned rotations", arXiv:2405.16406: Cayley SGD, straight-through weight quantizer), on the
// layer-wise proxy loss instead of the end-to-end one. Step 4 (GPTQ / RTN on the transformed weights)
// and walking the model are the pipeline's.
//
// Folded form. On a model with folded norms (transforms/fold_norms.hpp), so every RMSNorm is
// x / rms(x):
//   1. residual stream h -> h R: transforms::rotate_residual(custom_rotation(R)) (E <- E R, readers
//      W <- W R, writers W <- R^T W and b <- b R), exactly QuaRot's fold with R instead of H diag(s);
//   2. per reader group g (q/k/v after a block's input_layernorm, gate/up after its
//      post_attention_layernorm): W <- W diag(d_g) (as methods::apply_awq) and the norm weight <- 1/d_g.
// rms is rotation invariant, so the norm on the rotated stream outputs (h / rms(h)) R D^-1, and
// (x R D^-1)(W R D)^T = x W^T: the float model is unchanged. A reader therefore sees
//   W' = W R D,   H' = D^-1 R^T H R D^-1,   D = diag(d_g)       (hero_reader_weight / _hessian)
// and a writer (o_proj, down_proj) W' = R^T W with its input untouched (hero_writer_weight).
//
// Objective (n_g linears in group g, c_i = tr(W_i H_g W_i^T), E_i = Q_w(W'_i) - W'_i):
//   J(R, d) = sum_g [ sum_i tr(E_i H'_g E_i^T) / c_i  +  rho n_g log(lambda_max(H'_g) / (tr(H'_g) / dim)) ]
// Gradient, straight-through (Q_w(W') = W' + stop_grad(E), so E is a constant), A_g = R D_g^-1:
//   dJ/dA_g = 2 H_g A_g G_g,   G_g = sum_i E_i^T E_i / c_i + rho n_g (v v^T / lambda_max - I / tr H'_g)
//   dJ/dR = sum_g dJ/dA_g D_g^-1,   dJ/d(log d_g)_j = -(A_g^T dJ/dA_g)_jj
// v the top eigenvector of H'_g (power iteration). Each step: R <- Cayley step along
// -(G_R R^T - R G_R^T) (linalg/stiefel.hpp), log d_g <- Adam step.
//
// [choice]s (HeroOptions):
// - D sits after R (W R D), not before it as METHODS.md's W D R: a diagonal D in front of a global R
//   folds into the rotated stream as the dense R^T D^-1 R, which no norm weight can hold; after R it
//   folds exactly into each RMSNorm weight (AWQ's producer fold), so d is one vector per reader
//   group (per norm), not one global D.
// - Writers (o_proj, down_proj) are not in the objective: their transform R^T W is on the output
//   side, their input and H' = H do not change (the conditioning term is constant), and the
//   straight-through gradient of their loss is zero (the output error x E^T R^T has the norm of
//   x E^T for a constant E). Leaving them out also spares their H (down_proj's is hidden x hidden).
//   The pipeline rotates them and GPTQ/RTN quantizes them as usual.
// - The per-head rotation between v_proj and o_proj (HeroHeads, one per block the caller gives):
//   one orthogonal Q [head_dim, head_dim] per block, shared by its heads as SpinQuant's R2 (GQA
//   needs it shared: query heads reading one kv head see the same rotated values), started from
//   QuaRot's per-head Hadamard (Q0) and moved by the same normalized, decayed Cayley step as R.
//   With B = blockdiag(Q, ..., Q): v_proj W_v' = B_kv^T W_v R D (its rows, head by head) and
//   o_proj W_o' = W_o B with H_o' = B^T H_o B. J gains o_proj's term tr(E_o H_o' E_o^T) / c_o, its
//   straight-through gradient dJ/dQ = sum_h [2 H_o B S_o]_hh (S_o = E_o^T E_o / c_o, the diagonal
//   head blocks). v_proj's term stays in its group with the rotated rows: its value counts in J
//   (and keep_best), but Q acts on its output side, so like the writers' R it has no
//   straight-through gradient. o_proj's term uses W_o B without R^T on its output side (the same
//   argument; it spares o_proj's full rows under max_rows). lambda_max(H_o') / mean eig is Q
//   invariant: rho does not act on Q. v_proj's rows are never subsampled (Q needs whole heads).
//   Without HeroHeads the caller applies QuaRot's fixed per-head Hadamard (or none) to v_proj's
//   rows before the call, as it will be quantized apart from R and d.
// - lambda_max(H') / mean eig(H') is invariant to R when d = 1 (R^T H R has H's eigenvalues), so
//   the conditioning term acts through d only; with learn_scales off (spinquant) rho changes nothing
//   and the term is reported, not optimized. n_g weights it per linear, as METHODS.md's sum.
// - Cayley SGD without momentum, normalized: step k moves along the Cayley curve with
//   alpha = lr_rotation (1 - k / steps) / ||Omega||_F, i.e. a generator of Frobenius norm
//   lr_rotation, linearly decayed (SpinQuant decays linearly too). Normalizing makes the step
//   independent of the objective's scale (relative losses summed over any number of linears).
// - log d: Adam (beta1 0.9, beta2 0.999, eps 1e-8) with the same linear decay, d = 1 at the start;
//   after each step the mean of log d_g is set to 0: Q_w(c W) ~ c Q_w(W) makes J nearly invariant to
//   a common factor of d_g, a direction the straight-through gradient does not see and drifts along.
// - keep_best (default on): the returned (R, d) is the evaluated point with the lowest J (the start
//   included). J is piecewise smooth in the roundings and a step can raise it; off: the last point.
// - R0 is an input: methods/ does not link transforms/. The pipeline passes QuaRot's seeded random
//   Hadamard, transforms::make_rotation(dim, {.random_signs = true, .seed = seed}, "hidden_size")
//   .dense(); any orthogonal R0 (the identity) works.
// - Memory and cost: H in double or fp32 per group (64 MiB instead of 128 MiB at dim 4096); the
//   per-group dim x dim products (H A, (H A) G: 4 dim^3 flops) run in H's precision, W' and E in fp32
//   (as stored). The caller chooses the groups (e.g. every k-th block: the others keep d = 1), and
//   max_rows caps the rows of each W in the objective (whole 16-row blocks, evenly spaced: Q_w acts
//   per row, 16 x 16 NVFP4 tiles stay whole; the loss is then an estimate over those rows). Per step:
//   4 dim^2 sum_i m_i flops (W R in sgemm, E^T E in ssyrk) + 4 dim^3 per group + ~2 dim^3 per
//   fixed-point iteration of the Cayley step (about 10).
// - Deterministic: every matrix product goes through OpenBLAS on one thread (Eigen's GEMM blocking,
//   and some OpenBLAS kernels' threading, depend on the thread count), fake_quant is thread-count
//   independent, sums run in a fixed order. The power
//   iteration starts from a vector seeded by `seed` and the group index, then warm-starts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::methods {

// One linear reading the residual stream.
struct HeroLinear {
  std::string name;         // e.g. "model.layers.3.self_attn.q_proj" (messages, report)
  const MatF* W = nullptr;  // [m, dim], norm folded, in the original (unrotated) space
};

// The linears reading the stream through one RMSNorm: they share H and d.
struct HeroGroup {
  std::string name;                 // e.g. "model.layers.3.input_layernorm"
  std::vector<HeroLinear> linears;  // q/k/v, or gate/up
  // X^T X / N of their common input (the folded norm's output x / rms(x)), [dim, dim], symmetric;
  // exactly one of the two.
  const linalg::Mat* H = nullptr;
  const MatF* H_f32 = nullptr;
};

// The per-head rotation between one block's v_proj and o_proj (see the [choice]s above).
struct HeroHeads {
  std::string name;  // e.g. "model.layers.3.v_o" (messages, report)
  size_t group = 0;  // the reader group holding v_proj (q/k/v), an index into the groups given
  size_t v = 0;      // v_proj's index in that group's linears; its W is before Q (whole heads)
  int64_t head_dim = 0;
  const MatF* W_o = nullptr;  // [m, q_dim] o_proj before Q (its rows may be a subsample)
  // X^T X / N of o_proj's input before Q, [q_dim, q_dim], symmetric; exactly one of the two.
  const linalg::Mat* H_o = nullptr;
  const MatF* H_o_f32 = nullptr;
  linalg::Mat Q0;  // [head_dim, head_dim] orthogonal start (QuaRot's per-head Hadamard)
};

struct HeroOptions {
  int steps = 100;
  double lr_rotation = 0.05;  // Frobenius norm of each Cayley step's generator (before decay), in (0, 1)
  double lr_scale = 0.01;     // Adam learning rate on log d, > 0
  double rho = 1e-3;          // weight of the conditioning term, >= 0
  bool learn_rotation = true;
  bool learn_scales = true;  // false: d = 1 throughout
  bool keep_best = true;
  int64_t max_rows = 0;     // rows of each W in the objective (16-row blocks); 0 = all
  int power_iters = 100;    // power iterations per evaluation, at most
  double power_tol = 1e-6;  // stop when the Rayleigh quotient changes by <= power_tol relative
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;
  uint64_t seed = 0;  // power-iteration start vectors
};

// The SpinQuant-style setting of `opt`: rho = 0, learn_scales = false (d = 1).
HeroOptions spinquant_options(HeroOptions opt = {});

// J's terms at one point: objective = quant + rho * cond.
struct HeroTerms {
  double objective = 0;
  double quant = 0;  // sum over linears of tr(E H' E^T) / tr(W H W^T)
  double cond = 0;   // sum over linears of log(lambda_max(H') / mean eig(H'))
};

struct HeroLinearReport {
  std::string group, name;
  double loss_before = 0, loss_after = 0;    // tr(E H' E^T) / tr(W H W^T) at (R0, 1) and at the result
  double kappa_before = 0, kappa_after = 0;  // lambda_max(H') / mean eig(H') of its group, likewise
  double lambda_max = 0;                     // lambda_max(H) (= lambda_max(H') at (R0, 1))
};

struct HeroHeadsReport {
  std::string name;
  double o_loss_before = 0, o_loss_after = 0;  // o_proj's tr(E H_o' E^T) / c_o at Q0 and at the result
};

struct HeroResult {
  linalg::Mat R;                          // [dim, dim], orthogonal
  std::vector<linalg::Mat> Q;             // per HeroHeads [head_dim, head_dim], orthogonal
  std::vector<HeroHeadsReport> heads;     // per HeroHeads
  std::vector<linalg::Vec> d;             // per group [dim], > 0, geometric mean 1; the norm weight is 1/d
  std::vector<HeroTerms> curve;           // steps + 1 points: (R0, 1), then after each step
  int best = 0;                           // curve index of the returned (R, d)
  std::vector<HeroLinearReport> linears;  // group by group
  double orthogonality_error = 0;         // max |R^T R - I| and |Q^T Q - I| over the Q
  double seconds = 0;                     // total
  double seconds_quant = 0, seconds_hessian = 0, seconds_update = 0;  // W', Q_w, E^T E | H' terms | steps
};

// Runs opt.steps steps from (R0, d = 1). R0: [dim, dim] orthogonal (within 1e-6), dim = every W's
// input width. Throws hessq::Error naming the group or linear on bad shapes or values, and on bad
// options (steps < 1, learning rates <= 0, rho < 0, nothing to learn).
// heads: per-head rotations to learn with R (empty: none); each names its group's v_proj.
HeroResult optimize_hero(const std::vector<HeroGroup>& groups, const linalg::Mat& R0, const formats::QuantSpec& wq,
                         const HeroOptions& opt = {}, const std::vector<HeroHeads>& heads = {});

// J at (R, d) (d: one vector per group; empty = all ones) and the heads' Q (one per HeroHeads;
// empty = their Q0), with the same checks.
HeroTerms evaluate_hero(const std::vector<HeroGroup>& groups, const linalg::Mat& R, const std::vector<linalg::Vec>& d,
                        const formats::QuantSpec& wq, const HeroOptions& opt = {},
                        const std::vector<HeroHeads>& heads = {}, const std::vector<linalg::Mat>& Q = {});

// The smooth part of one group's J at (R, d) with the error Gram matrix S = sum_i E_i^T E_i / c_i held
// fixed (what the straight-through gradient differentiates):
//   quant = <H', S>,  cond = log(lambda_max(H') / (tr H' / dim)),  value = quant + w cond
// and its gradients (w = rho n_g). H, S: [dim, dim] symmetric; R orthogonal; d > 0.
struct HeroSmooth {
  double quant = 0, cond = 0, lambda_max = 0, trace = 0;
  linalg::Mat grad_R;      // [dim, dim] dvalue/dR
  linalg::Vec grad_log_d;  // [dim] dvalue/d(log d)
};
HeroSmooth hero_group_smooth(const linalg::Mat& H, const linalg::Mat& R, const linalg::Vec& d, const linalg::Mat& S,
                             double w, const HeroOptions& opt = {});

// o_proj's smooth term with its error Gram matrix S = E_o^T E_o / c_o held fixed, B = blockdiag(Q):
//   quant = <B^T H_o B, S>,  grad_Q = dquant/dQ = sum_h [2 H_o B S]_hh
// H_o, S: [q_dim, q_dim] symmetric, q_dim a multiple of Q's order; Q orthogonal.
struct HeroHeadsSmooth {
  double quant = 0;
  linalg::Mat grad_Q;  // [head_dim, head_dim]
};
HeroHeadsSmooth hero_heads_smooth(const linalg::Mat& H_o, const linalg::Mat& Q, const linalg::Mat& S);

// The per-head fold: v_proj rows W_v,h <- Q^T W_v,h per head (W: [heads * head_dim, n]) and o_proj
// columns W_o[:, h] <- W_o[:, h] Q (W: [m, heads * head_dim]), in double, rounded to fp32.
MatF hero_head_rows(const MatF& W_v, const linalg::Mat& Q);
MatF hero_head_cols(const MatF& W_o, const linalg::Mat& Q);

// The folded weights and the reader's second moment (see the top of this header), in double, rounded
// to fp32 for weights. W: [m, dim] reader / [dim, n] writer; R: [dim, dim]; d: [dim] > 0.
MatF hero_reader_weight(const MatF& W, const linalg::Mat& R, const linalg::Vec& d);                 // W R diag(d)
MatF hero_writer_weight(const MatF& W, const linalg::Mat& R);                                       // R^T W
// The rows of W the objective uses under max_rows (whole 16-row blocks, evenly spaced), or all of W
// when max_rows is 0 or W has no more blocks than max_rows allows. A caller that holds many weights
// (the pipeline's pass) keeps only these and optimizes with max_rows = 0: the same objective.
MatF hero_objective_rows(const MatF& W, int64_t max_rows);
linalg::Mat hero_reader_hessian(const linalg::Mat& H, const linalg::Mat& R, const linalg::Vec& d);  // D^-1 R^T H R D^-1

}  // namespace hessq::methods
