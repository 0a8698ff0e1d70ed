// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers", arXiv 2210.17323), METHODS.md "Baselines".
//
// Objective: choose W_q on the INT grid minimizing tr((W_q - W) H (W_q - W)^T), H = X^T X / N,
// greedily column by column with the OBS error feedback: quantize column j, spread its error
// (w_j - q_j) / [U]_jj along row j of U, the upper Cholesky factor of the damped H^-1.
//
// Steps (as METHODS.md and the reference `fasterquant`):
//   1. dead inputs: H_jj == 0 -> H_jj = 1 and W[:, j] = 0;
//   2. per-channel / per-tensor params from all of W, or static group params, up front;
//   3. act-order: columns in descending diag(H);
//   4. damping H += damp * mean(diag H) * I;
//   5. U = upper Cholesky of H^-1 in double (then applied in float like the reference), computed as
//      J R^-T J from the Cholesky factor R of the reversed H (J H J = R^T R): H^-1 is never formed;
//   6. columns in blocks of `block`, lazy batch update of the columns right of the block (one GEMM);
//   7. proxy_loss = tr(dW H dW^T) with the caller's undamped (symmetric) H, in double, computed
//      exactly from the damped factor (H_damped = V V^T, V = U^-1): ||dW V||^2 - lambda ||dW||^2
//      - (dead columns), one triangular multiply instead of a GEMM.
// Memory: steps 4-5 run inside H's own buffer (permutation, damping, potrf and trtri in place; R's
// strict triangle waits in the other half while R^-1 is formed), so beyond H the solver holds one
// n x n float (U) and a few [m, n] floats. Hand H over by rvalue (solve_gptq(W, std::move(H), ...),
// or calib::Stats::take_H()) and no n x n double is copied; the const-reference form copies H once.
// Both forms give bit-identical results.
// Output: W_q exactly on the grid of int_params (row-major [m, groups], per-channel = 1 group of n)
// so formats::pack_int stores it.
//
// [choice]s (options in GptqOptions unless stated):
// - static_groups = true (the reference defaults to false): group params from the dead-zeroed
//   original W in natural group order, computed before the loop. With act_order this keeps the
//   standard contiguous group layout, so no permutation or per-column group index is stored.
// - act_order with dynamic groups (static_groups = false) on a grouped spec is refused with an
//   Error: groups entered in permuted order would need a stored per-column group index (g_idx),
//   which the packed layout does not have. Per-channel / per-tensor specs allow it.
// - dynamic groups: params are computed when the column loop enters a group, from the group's fully
//   updated values (the current block's pending updates are applied to columns right of the block
//   first). The reference reads the not-yet-updated global W there when group < block, so its
//   result depends on `block`; ours does not (block is only a speed knob).
// - per-channel / per-tensor params come from W after dead-column zeroing (the reference: before).
// - spec.clip_search: each group's params come from formats::group_params, the same clip-ratio
//   search fake_quant runs (on the group's current values).
// - INT formats only (2..8 bits, sym or asym; per-channel, per-token, per-tensor or per-group);
//   anything else throws naming the spec.
#pragma once
#include <cstdint>
#include <vector>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"

namespace hessq::methods {

// The order in which the block-grid solvers (methods/gptq_blocked.hpp: MXFP4, NVFP4, ggml block
// types) enter their scale blocks; columns inside a block keep their natural order. INT GPTQ has
// act_order instead (static groups make any column order valid there).
enum class BlockOrder {
  Natural,  // block 0, 1, 2, ...
  DiagSum,  // descending sum of diag(H) over the block's columns
  DiagMax,  // descending max of diag(H) over the block's columns (the block of the hottest input first)
};

struct GptqOptions {
  double damp = 0.01;        // lambda: H += damp * mean(diag H) * I
  bool act_order = false;    // process columns in descending diag(H)
  bool static_groups = true;  // group params from the original W up front (see [choice]s above)
  int block = 128;           // columns per lazy-update block (speed only: results do not depend on it)
  // ggml block types (methods/ggml_solvers.hpp): choose each block's scales with diag(H) as the
  // importance (ggml's weighted search, what llama-quantize does with an importance matrix).
  bool importance = true;
  // Block-grid solvers only (gptq_blocked.hpp "Block order"): the order blocks are entered in.
  BlockOrder block_order = BlockOrder::Natural;
};

// The INT parameter layout int_params uses for a spec on [m, n] weights: g columns per group,
// `groups` per row (per-channel / per-token: 1 group of n; per-tensor: 1 group, the same params on
// every row). Throws naming `method` and the spec for non-INT formats, bits outside 2..8, Tile2D,
// or n not a multiple of the group size.
struct IntLayout {
  int64_t g = 0;
  int64_t groups = 0;
  bool per_tensor = false;
};
IntLayout int_layout(const formats::QuantSpec& spec, int64_t n, const char* method);

// W: [m, n]; H: [n, n] = X^T X / N (double). Throws hessq::Error on shape mismatch, non-finite input,
// a non-INT or out-of-range spec, bad options, or a damped H that is not positive definite.
// The rvalue form consumes H (the caller's matrix is left empty, also when it throws) and needs no
// n x n double beyond it; the const-reference form copies H and calls it.
QuantizedWeight solve_gptq(const MatF& W, const linalg::Mat& H, const formats::QuantSpec& spec,
                           const GptqOptions& opt = {});
QuantizedWeight solve_gptq(const MatF& W, linalg::Mat&& H, const formats::QuantSpec& spec,
                           const GptqOptions& opt = {});

namespace detail {
// Step 7, shared with gptq_mx.cpp: tr(D H D^T), D = W_q - W, for the undamped H whose damped form in
// the order q is R^T R: H_damped(a, b) = H(q[a], q[b]) + [a == b] (lambda + [q[a] dead]), R upper
// (only its upper triangle is read), `dead` the positions a of the dead inputs in q. Equals
// ||D_q R^T||^2 - lambda ||D||^2 - sum_dead ||D_q(:, a)||^2 with D_q(:, a) = D(:, q[a]), in double.
double proxy_loss_from_factor(const MatF& W, const MatF& W_q, const linalg::Mat& R, const std::vector<int64_t>& q,
                              double lambda, const std::vector<int64_t>& dead);
// H(a, b) := H(q[a], q[b]) in place, q a permutation of 0..n-1 (entries only moved: equal to a
// gathered copy bit for bit), with one n-vector of scratch per thread and one column buffer.
void permute_symmetric_in_place(linalg::Mat& H, const std::vector<int64_t>& q);
}  // namespace detail

}  // namespace hessq::methods
