// Pieces shared by the builders of ggml grids (ggml_quantize.cpp: the reference quantizers,
// ggml_quantize_weighted.cpp: the importance-weighted ones): header byte writers with ggml's layouts
// (ggml_blocks.hpp) and the steps every builder ends with. Internal to the ggml formats files; the
// .cpp is compiled with -ffp-contract=off like them.
#pragma once
#include <cstdint>

#include "hessq/formats/ggml_quantize.hpp"

namespace hessq::formats::ggml_grid_build {

constexpr int kQK = 256;  // QK_K, the K-quants' super-block

// Stores f as f16 at p and returns the f16's value.
float put_f16(uint8_t* p, float f);
// An empty grid of `type` (shape set, header bytes zero).
GgmlGrid new_grid(GgmlType type);
// Fills the dequantization scales from the header (ggml's quantizers recompute them the same way).
void finish_grid(GgmlGrid& g);
// The K-quants' last step: codes are rounded on the final, dequantized grid (kNearestDiv), except in
// a sub-block whose dequantized scale is 0, where ggml keeps the search's codes L[j] - offset.
void finish_k_grid(GgmlGrid& g, const uint8_t* L, int offset);
void finish_k_grid(GgmlGrid& g, const int8_t* L, int offset);

// Q4_K / Q5_K header: f16 d, f16 dmin, the 6-bit scale codes ls and min codes lm of the 8 sub-blocks
// packed into the 12 scale bytes (get_scale_min_k4's layout).
void put_k4_header(uint8_t* block, float d, float dmin, const uint8_t* ls, const uint8_t* lm);
// Q3_K: the 16 6-bit scale codes (each in [0, 63], 32 meaning a zero scale) into the 12 scale bytes
// at `sc`, which must be zero.
void put_q3_k_scales(uint8_t* sc, const int8_t* codes);

// The weighted quantizers' element weights w[i] = qw[i] * sqrt(sigma2 + x[i]^2), i < n; returns their
// sum (summed in order after all are computed, as ggml does).
float importance_weights(int n, const float* x, const float* qw, float sigma2, float* w);
// sum(x^2) over the n elements, in order.
float sum_squares(int n, const float* x);

}  // namespace hessq::formats::ggml_grid_build
