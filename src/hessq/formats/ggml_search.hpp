// ggml's scale searches for the K-quants and the importance-weighted quantizers (ggml-quants.c:
// make_qx_quants, make_q3_quants, make_qkx2_quants, make_qkx3_quants, make_qp_quants), rewritten
// with the same float operations in the same order so that the bytes they lead to are ggml's.
// Each returns a scale and fills L[0..n) with the codes it chose (offset to be non-negative as in
// ggml: L = l + nmax for the symmetric searches). Internal to the ggml formats files.
#pragma once
#include <cstdint>

namespace hessq::formats::ggml_search {

constexpr float kGroupMaxEps = 1e-15f;  // GROUP_MAX_EPS

// Round to nearest, ties to even, as ggml's nearest_int (valid for |v| <= 4194303); v outside that
// range is clamped to it first, which never happens inside ggml's own quantizers.
int nearest_int(float v);

// The first of x[0, n) with the largest magnitude (0 when all are 0): the "max" of ggml's symmetric
// quantizers, which divide by it with its sign.
float largest_magnitude(int n, const float* x);

// Symmetric codes in [-nmax, nmax - 1] (returned in L as l + nmax), scale chosen by a weighted
// least-squares search over 19 candidate inverse scales. rmse_type 1 with qw == nullptr weights by
// x^2. When `best_iscale` is given it receives the inverse scale the final L were rounded with.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw,
                     float* best_iscale = nullptr);
// Q3_K's search: symmetric codes with a coordinate-descent refinement (do_rmse).
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);
// Asymmetric codes in [0, nmax] with a min: returns the scale, *the_min = -min (>= 0).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);
// As make_qkx2_quants with weights x^2 when weights == nullptr and a "max <= min" degenerate test.
// When `round_iscale` / `round_min` are given they receive what the final L were rounded with:
// L_i = clamp(nearest_int(round_iscale * (x_i - round_min)), 0, nmax) (the search moves its min as it
// goes, so round_min is not always -*the_min); in the degenerate case 0 and the clipped min.
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad, float* round_iscale = nullptr,
                       float* round_min = nullptr);
// Non-negative codes in [0, nmax] for the sub-block scales of the weighted K-quants.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

}  // namespace hessq::formats::ggml_search
