// HeRo-Q and SpinQuant as a model-scope pass (METHODS.md "HeRo-Q"; the optimizer and its folded form:
// methods/hero.hpp). On the float model:
//   1. statistics pre-pass, streamed block by block over the calibration windows like the driver
//      (HiddenStates, collect_block_stats, advance_stream): for each selected block l, H = X^T X / N of
//      the folded input_layernorm output (readers q/k/v) and of the folded post_attention_layernorm
//      output (readers gate/up), and the readers' folded weights (v_proj with QuaRot's per-head
//      rotation already applied to its rows when v_o);
//   2. methods::optimize_hero over those groups from R0 = QuaRot's seeded random Hadamard
//      (make_rotation(dim, {random_signs, seed})), against the solver's weight format; with `heads`
//      (and v_o) also one per-head rotation per selected block (methods::HeroHeads) from QuaRot's
//      per-head Hadamard, on o_proj's input H and v_proj / o_proj before that Hadamard;
//   3. the transform: QuaRot's rotation (fold, v -> o, online down_proj) with R in place of Q, the
//      learned per-head rotations in place of the Hadamard in their blocks (ModelRotation::Hh_layer),
//      and for hero d_g moved out of each selected norm into its readers (ModelTransform).
// [choice]s:
// - Groups: blocks l with l % every == 0 (param `every`, default 1: all). Only selected blocks' groups
//   enter the objective and get a scaling d; the others keep d = 1 but are still rotated by R. Memory:
//   2 H per selected block in fp32 (dim^2 x 4 bytes each: 64 MiB at dim 4096) plus the readers'
//   weights, of which only the objective's rows are kept (max_rows, methods::hero_objective_rows);
//   with heads also o_proj's input H (q_dim^2 fp32), o_proj's objective rows and v_proj whole.
// - heads (default on, for hero and spinquant: SpinQuant learns R2 per layer): one R_v per selected
//   block shared by its heads; blocks outside the objective keep QuaRot's Hadamard.
//   The pre-pass stops after the last selected block.
// - Statistics from the FLOAT model (the optimizer's H is "collected once in the original space"),
//   not sequentially from quantized blocks: the transform must exist before any block is quantized.
// - H is kept in fp32 (methods::HeroGroup::H_f32), half the memory of double; its products run in fp32.
// - The objective's quantizer is the solver's weight format (Q_w in the objective), rounded as RTN;
//   GPTQ then quantizes the transformed weights (METHODS.md step 4).
// - Writers (o_proj, down_proj) are rotated but not in the objective (methods/hero.hpp).
// - seed: R0's signs (as QuaRot's --rotate-seed, so hero with steps -> 0 is QuaRot) and the power
//   iterations' start vectors.
#pragma once
#include "hessq/pipeline/model_transform.hpp"

namespace hessq::pipeline {

// p: a hero or spinquant pass; solver: the recipe's solver (its weight format is Q_w). `forwards`
// counts the pre-pass's block forwards: S W_c for statistics (S selected blocks) and l_last W_c to
// advance up to the last selected block l_last.
ModelTransform run_hero_pass(const io::TensorStore& src, const Pass& p, const Pass& solver, const calib::Windows& w,
                             const ModelPassOptions& opt, int64_t& forwards);

// The pre-pass's block forwards (see run_hero_pass) for `every` over n_layers blocks.
int64_t hero_pass_forwards(int every, int n_layers, int64_t calib_windows);

}  // namespace hessq::pipeline
