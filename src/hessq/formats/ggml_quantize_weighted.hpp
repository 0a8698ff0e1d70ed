// ggml's importance-weighted quantizers (ggml-quants.c quantize_row_<type>_impl with quant_weights,
// what quantize_<type> runs when llama-quantize has an importance matrix) as grid builders, up to the
// point where they round the elements. Internal to ggml_quantize.cpp, which dispatches to them.
//
// What ggml does without weights (quantize_<type>(..., nullptr)) is the reference quantizer for every
// type, though some _impl functions have their own unweighted branch (Q3_K: weights x^2; Q4_K, Q5_K:
// av_x + |x|): quantize_<type> never reaches it, so neither does hessq. A uniform importance is not
// the reference either: it is the weighted search with qw = 1.
#pragma once
#include "hessq/formats/ggml_quantize.hpp"

namespace hessq::formats::ggml_weighted {

// The grid of ggml's weighted quantizer for one block x of `type` (Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
// Q4_K, Q5_K; Q6_K's search takes its weights in ggml_quantize.cpp). qw: the block's importance,
// finite and non-negative. row_sigma2: sum(x^2)/n over the whole row, used by the 32-element types
// (the K-quants take theirs from the block).
GgmlGrid weighted_grid(GgmlType type, const float* x, const float* qw, float row_sigma2);

}  // namespace hessq::formats::ggml_weighted
