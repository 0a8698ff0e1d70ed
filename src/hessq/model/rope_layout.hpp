// Converting q/k projections between RoPE conventions. llama2.c (and Meta's original checkpoints)
// rotate interleaved pairs (2i, 2i+1) of each head; HuggingFace rotates halves (i, i + d/2). The same
// model in the other convention has the rows of q_proj and k_proj (and their biases and q/k norms)
// permuted within each head: interleaved row 2i + p <-> half row p * d/2 + i.
#pragma once
#include <cstdint>
#include <vector>

#include "hessq/core/tensor.hpp"
#include "hessq/model/config.hpp"

namespace hessq::model {

// Permutes the q/k tensors of `tensors` (HF names) from cfg.rope_style to `to` and sets
// cfg.rope_style = to. Permuted tensors are new copies; views of a mapped file are never written.
void convert_rope_layout(ModelConfig& cfg, TensorMap& tensors, RopeStyle to);

// The same permutation as a row order, for tensors that are not fp32 (packed quantized rows): row r of
// a [heads * head_dim, ...] q/k tensor in layout `to` is row order[r] of the tensor in the other layout.
// Identity when from == to.
std::vector<int64_t> rope_row_order(int heads, int head_dim, RopeStyle from, RopeStyle to);

}  // namespace hessq::model
