// Folding RMSNorm weights into the linears that read the normalized stream (QuaRot, Ashkboos et al.
// 2024, arXiv:2404.00456, and SliceGPT, Ashkboos et al. 2024, arXiv:2401.15024): with
// RMSNorm(x) = x / rms(x) ⊙ w and a consumer y = RMSNorm(x) W^T, W <- W diag(w) and w <- 1 leave y
// unchanged. Afterwards every norm is a pure x / rms(x), which commutes with any orthogonal Q:
// RMSNorm(x Q) = RMSNorm(x) Q (transforms/rotation.hpp).
//   input_layernorm          -> q_proj, k_proj, v_proj columns
//   post_attention_layernorm -> gate_proj, up_proj columns
//   model.norm (final)       -> lm_head columns; a head tied to the embedding is untied first
//                               (cfg.tie_embeddings becomes false, lm_head gets its own tensor).
// Qwen3's per-head q_norm / k_norm act after the projections and before RoPE and are left alone.
#pragma once
#include <string>

#include "hessq/model/layout.hpp"
#include "hessq/model/model.hpp"

namespace hessq::transforms {

// Folds every norm as above. New tensors are allocated (never written into views of a mapped file).
// Throws, leaving `m` untouched, if a consumer linear is not a model::DenseLinear.
void fold_norms(model::Model& m);

// The same for one block (index `l`, for messages): input_layernorm into q/k/v, post_attention_layernorm
// into gate/up, both norms set to ones. Throws, leaving L untouched, if a consumer is not dense.
void fold_layer_norms(model::LayerWeights& L, int l);
// A per-channel scaling d > 0 moved out of a block norm into its readers (HeRo-Q's D, methods/hero.hpp
// "Folded form"; AWQ's producer fold the other way round): the readers of `which` (Attn: q/k/v, Mlp:
// gate/up) W <- W diag(d), the norm weight w <- w / d, so the block's outputs are unchanged. d: [dim].
// Throws, leaving L untouched, if a reader is not dense, d has the wrong size or a d_j is not > 0.
void scale_norm_readers(model::LayerWeights& L, int l, model::InputKind which, const Tensor& d);
// head diag(final_norm): the folded output head (a new tensor).
Tensor fold_head_norm(const Tensor& head, const Tensor& final_norm);
// A norm weight of ones, shaped like `norm` (what a folded norm becomes).
Tensor ones_like_norm(const Tensor& norm);

// `lin` as a DenseLinear, or throws naming `name` (e.g. "model.layers.3.mlp.down_proj").
const model::DenseLinear& dense_linear(const model::Linear& lin, const std::string& name);
using model::linear_name;

}  // namespace hessq::transforms
