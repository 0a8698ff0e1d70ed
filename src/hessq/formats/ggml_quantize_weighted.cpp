// Compiled with -ffp-contract=off (CMakeLists.txt). Each builder follows quantize_row_<type>_impl of
// ggml-quants.c with quant_weights present; the float expressions keep ggml's operand order.
#include "hessq/formats/ggml_quantize_weighted.hpp"

#include <algorithm>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_grid_build.hpp"
#include "hessq/formats/ggml_search.hpp"

namespace hessq::formats::ggml_weighted {

namespace {

using namespace ggml_grid_build;

// Q4_0 / Q5_0: make_qx_quants (codes [-nmax, nmax - 1]) with weights qw * sqrt(sigma2 + x^2); the
// codes are the search's own rounding with its best inverse scale (no re-rounding on the f16 scale).
GgmlGrid legacy_sym_grid(GgmlType type, const float* x, const float* qw, float sigma2, int nmax) {
  GgmlGrid g = new_grid(type);
  float weight[32];
  int8_t L[32];
  importance_weights(32, x, qw, sigma2, weight);
  float iscale = 0;
  const float d = ggml_search::make_qx_quants(32, nmax, x, L, 1, weight, &iscale);
  put_f16(g.header.data(), d);
  g.rounding = GgmlRounding::kNearestMul;
  g.inv[0] = iscale;
  for (int j = 0; j < 32; ++j) g.zero_code[j] = static_cast<int8_t>(L[j] - nmax);
  finish_grid(g);
  return g;
}

// Q4_1 / Q5_1: make_qkx3_quants (codes [0, nmax], a min) with the same weights; stored d = the
// search's scale, m = its min. The codes are the search's own rounding, iscale * (x - min') with the
// min' the search had when it rounded them (not the stored min).
GgmlGrid legacy_asym_grid(GgmlType type, const float* x, const float* qw, float sigma2, int nmax) {
  GgmlGrid g = new_grid(type);
  float weight[32];
  uint8_t L[32], Laux[32];
  importance_weights(32, x, qw, sigma2, weight);
  float the_min = 0, iscale = 0, round_min = 0;
  const float d = ggml_search::make_qkx3_quants(32, nmax, x, weight, L, &the_min, Laux, -0.9f, 0.05f, 36, false,
                                                &iscale, &round_min);
  put_f16(g.header.data(), d);
  put_f16(g.header.data() + 2, -the_min);
  g.rounding = GgmlRounding::kNearestMul;
  g.inv[0] = iscale;
  g.off[0] = round_min;
  for (int j = 0; j < 32; ++j) g.zero_code[j] = static_cast<int8_t>(L[j]);
  finish_grid(g);
  return g;
}

// The search of the weighted Q2_K, Q4_K and Q5_K: per sub-block of `sub` elements make_qkx3_quants
// (codes [0, nmax], a min) with weights qw * sqrt(sigma2 + x^2); then the sub-block scales and the
// mins each quantized by make_qp_quants to codes in [0, nmax_sub], weighted by the sub-blocks'
// weight sums. d, dmin: the super-block scales make_qp_quants returned.
struct KAsymSearch {
  uint8_t L[kQK];
  uint8_t ls[16], lm[16];
  float d = 0, dmin = 0;
};

KAsymSearch k_asym_search(const float* x, const float* qw, float sigma2, int sub, int nmax, int nmax_sub) {
  KAsymSearch k;
  const int nsub = kQK / sub;
  uint8_t Laux[32];
  float weight[32], sw[16], scales[16], mins[16];
  for (int j = 0; j < nsub; ++j) {
    sw[j] = importance_weights(sub, x + sub * j, qw + sub * j, sigma2, weight);
    scales[j] = ggml_search::make_qkx3_quants(sub, nmax, x + sub * j, weight, k.L + sub * j, &mins[j], Laux, -0.9f,
                                              0.05f, 36, false);
  }
  k.d = ggml_search::make_qp_quants(nsub, nmax_sub, scales, k.ls, sw);
  k.dmin = ggml_search::make_qp_quants(nsub, nmax_sub, mins, k.lm, sw);
  return k;
}

// Q2_K: sigma2 = sum(x^2) / 256 (not twice it, unlike the others); 4-bit scale and min codes.
GgmlGrid q2_k_grid(const float* x, const float* qw) {
  GgmlGrid g = new_grid(GgmlType::kQ2_K);
  const float sigma2 = sum_squares(kQK, x) / static_cast<float>(kQK);
  const KAsymSearch k = k_asym_search(x, qw, sigma2, 16, 3, 15);
  for (int j = 0; j < 16; ++j) g.header[j] = static_cast<uint8_t>(k.ls[j] | (k.lm[j] << 4));
  put_f16(g.header.data() + 80, k.d);
  put_f16(g.header.data() + 82, k.dmin);
  finish_k_grid(g, k.L, 0);
  return g;
}

// Q4_K (nmax 15) / Q5_K (nmax 31): sigma2 = 2 sum(x^2) / 256; 6-bit scale and min codes. ggml's Q5_K
// clamps the codes to 63 before packing, its Q4_K does not (the same unless make_qp_quants met a
// negative scale and its code wrapped as a uint8_t).
GgmlGrid qk_asym_grid(GgmlType type, const float* x, const float* qw, int nmax) {
  GgmlGrid g = new_grid(type);
  const float sigma2 = 2 * sum_squares(kQK, x) / static_cast<float>(kQK);
  KAsymSearch k = k_asym_search(x, qw, sigma2, 32, nmax, 63);
  if (type == GgmlType::kQ5_K)
    for (int j = 0; j < 8; ++j) {
      k.ls[j] = std::min<uint8_t>(63, k.ls[j]);
      k.lm[j] = std::min<uint8_t>(63, k.lm[j]);
    }
  put_k4_header(g.header.data(), k.d, k.dmin, k.ls, k.lm);
  finish_k_grid(g, k.L, 0);
  return g;
}

// Q3_K: make_qx_quants per sub-block of 16 (codes [-4, 3]) with weights qw * sqrt(sigma2 + x^2),
// sigma2 = 2 sum(x^2) / 256; the 16 scales quantized by make_qx_quants too (6-bit codes, offset 32)
// weighted by the sub-blocks' weight sums.
GgmlGrid q3_k_grid(const float* x, const float* qw) {
  GgmlGrid g = new_grid(GgmlType::kQ3_K);
  int8_t L[kQK], Ls[16];
  float weight[16], sw[16], scales[16];
  const float sigma2 = 2 * sum_squares(kQK, x) / static_cast<float>(kQK);
  for (int j = 0; j < 16; ++j) {
    sw[j] = importance_weights(16, x + 16 * j, qw + 16 * j, sigma2, weight);
    scales[j] = ggml_search::make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
  }
  const float d_block = ggml_search::make_qx_quants(16, 32, scales, Ls, 1, sw);
  put_q3_k_scales(g.header.data() + 96, Ls);
  put_f16(g.header.data() + 108, d_block);
  finish_k_grid(g, L, 4);
  return g;
}

}  // namespace

GgmlGrid weighted_grid(GgmlType type, const float* x, const float* qw, float row_sigma2) {
  switch (type) {
    case GgmlType::kQ4_0: return legacy_sym_grid(type, x, qw, row_sigma2, 8);
    case GgmlType::kQ5_0: return legacy_sym_grid(type, x, qw, row_sigma2, 16);
    case GgmlType::kQ4_1: return legacy_asym_grid(type, x, qw, row_sigma2, 15);
    case GgmlType::kQ5_1: return legacy_asym_grid(type, x, qw, row_sigma2, 31);
    case GgmlType::kQ2_K: return q2_k_grid(x, qw);
    case GgmlType::kQ3_K: return q3_k_grid(x, qw);
    case GgmlType::kQ4_K: return qk_asym_grid(type, x, qw, 15);
    case GgmlType::kQ5_K: return qk_asym_grid(type, x, qw, 31);
    default: HESSQ_FAIL("ggml {}: no importance-weighted quantizer", ggml_type_name(ggml_id(type)));
  }
}

}  // namespace hessq::formats::ggml_weighted
