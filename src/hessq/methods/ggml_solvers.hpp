// Solvers onto ggml's block types (formats/ggml_format.hpp: Q4_0 ... Q6_K, bytes as ggml stores
// them), so that a layer is exported to GGUF unchanged:
//   - RTN: ggml's own quantizer, the reference one (llama-quantize without an importance matrix) or,
//     with `importance`, ggml's weighted one fed diag(H) (llama-quantize with an importance matrix:
//     llama-imatrix collects exactly the mean of x^2 per input, i.e. diag(H) with H = X^T X / N);
//   - GPTQ: GPTQ's column loop (methods/gptq_blocked.hpp: same objective, error feedback and lazy
//     updates as methods/gptq.hpp) with the grid of each block chosen by ggml's quantizer when the
//     loop enters the block (32 or 256 columns), from the block's current, error-updated values (and
//     diag(H) over those columns as the importance when GptqOptions::importance, for every type but
//     Q8_0, which has no weighted search), then each value
//     rounded on that grid as ggml rounds (formats::ggml_grid_qdq). A block's bytes are written when
//     its last column is done (formats::ggml_pack_values checks every value is on the grid).
// [choice] the grid of a 256-wide K-quant super-block is fixed when the loop enters it, so its later
// columns are rounded on scales chosen before their error feedback arrived (as GPTQ's static groups).
// [choice] no column act-order: a permuted order would enter a block several times. Instead
// GptqOptions::block_order permutes whole blocks (gptq_blocked.hpp "Block order"): `max` enters first
// the blocks holding the inputs with the largest diag(H). On SmolLM2 those are the channels that
// carry the attention sink (the first token of each window), and natural order pushes the other
// columns' compensation into them (docs/RESULTS.md "Export to llama.cpp (GGUF)": Q4_0 PPL 36.05 ->
// 33.22). [choice] off by default (natural order), as GPTQ's own act_order.
#pragma once
#include "hessq/formats/quant_spec.hpp"
#include "hessq/linalg/linalg.hpp"
#include "hessq/methods/common.hpp"
#include "hessq/methods/gptq.hpp"

namespace hessq::methods {

// W: [m, n], n a multiple of the type's block. H: [n, n] (needed with `importance`; else optional,
// for the proxy loss). `importance` on Q8_0 is the reference quantizer (ggml has no weighted Q8_0).
QuantizedWeight solve_rtn_ggml(const MatF& W, const formats::QuantSpec& spec, const linalg::Mat* H, bool importance);

// Throws on a non-ggml spec, act_order (block_order is allowed), shape mismatch, non-finite input or a damped H that is not
// positive definite. The rvalue form consumes H.
QuantizedWeight solve_gptq_ggml(const MatF& W, const linalg::Mat& H, const formats::QuantSpec& spec,
                                const GptqOptions& opt = {});
QuantizedWeight solve_gptq_ggml(const MatF& W, linalg::Mat&& H, const formats::QuantSpec& spec,
                                const GptqOptions& opt = {});

}  // namespace hessq::methods
