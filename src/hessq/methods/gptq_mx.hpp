// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, arXiv:2210.17323; METHODS.md "Baselines") for
// MXFP4 weights (OCP MX v1.0: E2M1 elements, one power-of-two E8M0 scale per 32 inputs), so that
// GPTQ composes with W4A4 MXFP4 (quarot+gptq, arhq+gptq). Same objective and error feedback as
// methods/gptq.hpp: choose W_q minimizing tr((W_q - W) H (W_q - W)^T), column by column, spreading
// each column's error (w_j - q_j) / U_jj along row j of U, the upper Cholesky factor of the damped H^-1.
// Steps:
//   1. dead inputs: H_jj == 0 -> H_jj = 1 and W[:, j] = 0;
//   2. damping H += damp * mean(diag H) * I;
//   3. U = upper Cholesky of H^-1 (Cholesky R of H, its inverse, Cholesky again), inside H's buffer;
//   4. columns in blocks of `block` (a multiple of 32), lazy batch update of the columns right of the
//      block; when the loop enters an MX block (j % 32 == 0) each row's scale 2^e is computed from the
//      block's current (error-updated) values, e = floor(log2 amax) - 2 as formats/mx.hpp;
//   5. each value quantized to E2M1 x 2^e (round to nearest even, saturating at 6) with that scale.
// The result is a fixed point of the MXFP4 quantizer (fake_quant(W_q) == W_q: a block whose values
// are E2M1 x 2^e re-derives a scale 2^e' <= 2^e and every value stays representable), so it packs
// with formats::pack and decodes exactly. MXFP8 lacks that property (E4M3 saturation at 448) and is
// refused, naming the format; NVFP4 has its own entry point below.
// [choice] no column act-order: a permuted column order would enter MX blocks several times;
// GptqOptions::block_order permutes whole blocks instead (gptq_blocked.hpp "Block order").
// proxy_loss = tr(dW H dW^T) with the caller's undamped H, computed from R as in gptq.hpp (step 7).
// Memory as gptq.hpp: beyond H (consumed by the rvalue forms, copied once by the const-reference
// ones) one n x n float; both forms give bit-identical results.
#pragma once
#include "hessq/formats/quant_spec.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/methods/gptq.hpp"

namespace hessq::methods {

// W: [m, n]; H: [n, n] = X^T X / N. opt.act_order must be false; opt.block is rounded up to a
// multiple of 32. Throws on a non-MXFP4 spec, shape mismatch, non-finite input or a damped H that is
// not positive definite. proxy_loss uses the caller's undamped H.
QuantizedWeight solve_gptq_mx(const MatF& W, const linalg::Mat& H, const formats::QuantSpec& spec,
                              const GptqOptions& opt = {});
QuantizedWeight solve_gptq_mx(const MatF& W, linalg::Mat&& H, const formats::QuantSpec& spec,
                              const GptqOptions& opt = {});

// The same loop for NVFP4 with 1x16 blocks (standard mode): the FP32 global scale g is fixed from W
// (after step 1), each row's E4M3 block scale is chosen when the loop enters its block of 16 from
// the error-updated values (s_b = E4M3(amax / 6 / g)), and values round to E2M1 x s_b x g. W_q is not
// a fixed point of NVFP4's fake_quant (re-deriving g and s_b from W_q can differ), so the solver
// packs it on its own grid (QuantizedWeight::packed, formats::nvfp4_pack_on_grid).
QuantizedWeight solve_gptq_nvfp4(const MatF& W, const linalg::Mat& H, const formats::QuantSpec& spec,
                                 const GptqOptions& opt = {});
QuantizedWeight solve_gptq_nvfp4(const MatF& W, linalg::Mat&& H, const formats::QuantSpec& spec,
                                 const GptqOptions& opt = {});

}  // namespace hessq::methods
