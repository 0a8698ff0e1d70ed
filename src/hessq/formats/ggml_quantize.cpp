// Compiled with -ffp-contract=off (CMakeLists.txt). Each *_grid function follows the matching ggml
// reference quantizer (quantize_row_<type>_ref; the weighted ones are in ggml_quantize_weighted.cpp)
// up to the point where it rounds the elements; the float expressions keep ggml's operand order.
#include "hessq/formats/ggml_quantize.hpp"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_grid_build.hpp"
#include "hessq/formats/ggml_quantize_weighted.hpp"
#include "hessq/formats/ggml_search.hpp"

namespace hessq::formats {

namespace {

using ggml_search::nearest_int;
using namespace ggml_grid_build;

std::string type_name(GgmlType t) { return ggml_type_name(ggml_id(t)); }

// ---- Q4_0, Q5_0 (symmetric, scale = max / -2^(bits-1)) and Q4_1, Q5_1 (scale and min) ----

GgmlGrid legacy_sym_grid(GgmlType type, const float* x, int levels /* 8 or 16 */) {
  GgmlGrid g = new_grid(type);
  const float max = ggml_search::largest_magnitude(32, x);
  const float d = max / static_cast<float>(-levels);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_f16(g.header.data(), d);
  g.rounding = GgmlRounding::kTruncBiased;
  g.inv[0] = id;
  g.bias = static_cast<float>(levels) + 0.5f;
  finish_grid(g);
  return g;
}

GgmlGrid legacy_asym_grid(GgmlType type, const float* x, int bits) {
  GgmlGrid g = new_grid(type);
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < 32; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const float d = (max - min) / static_cast<float>((1 << bits) - 1);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_f16(g.header.data(), d);
  put_f16(g.header.data() + 2, min);
  g.rounding = GgmlRounding::kTruncBiased;
  g.inv[0] = id;
  g.off[0] = min;
  g.bias = 0.5f;
  finish_grid(g);
  return g;
}

GgmlGrid q8_0_grid(const float* x) {
  GgmlGrid g = new_grid(GgmlType::kQ8_0);
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  put_f16(g.header.data(), d);
  g.rounding = GgmlRounding::kRoundAway;
  g.inv[0] = d != 0.0f ? 1.0f / d : 0.0f;
  finish_grid(g);
  return g;
}

}  // namespace

GgmlGrid ggml_scale_grid(GgmlType type, float d) {
  HESSQ_CHECK(type == GgmlType::kQ4_0 || type == GgmlType::kQ5_0 || type == GgmlType::kQ8_0,
              "ggml_scale_grid: {} is not a symmetric legacy type (Q4_0, Q5_0, Q8_0)", type_name(type));
  GgmlGrid g = new_grid(type);
  const float dh = put_f16(g.header.data(), d);
  g.rounding = GgmlRounding::kNearestMul;  // round to nearest on the stored scale
  g.inv[0] = dh != 0.0f ? 1.0f / dh : 0.0f;
  finish_grid(g);
  return g;
}

namespace {

// ---- K-quants ----

GgmlGrid q2_k_grid(const float* x) {
  GgmlGrid g = new_grid(GgmlType::kQ2_K);
  uint8_t L[kQK], Laux[16];
  float weights[16], mins[16], scales[16];
  const float q4scale = 15.0f;
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = ggml_search::make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f,
                                              15, true);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  uint8_t* sc = g.header.data();
  if (max_scale > 0) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < 16; ++j) sc[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    put_f16(g.header.data() + 80, max_scale / q4scale);
  } else {
    put_f16(g.header.data() + 80, 0.0f);
  }
  if (max_min > 0) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < 16; ++j) sc[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
    put_f16(g.header.data() + 82, max_min / q4scale);
  } else {
    put_f16(g.header.data() + 82, 0.0f);
  }
  finish_k_grid(g, L, 0);
  return g;
}

GgmlGrid q3_k_grid(const float* x) {
  GgmlGrid g = new_grid(GgmlType::kQ3_K);
  int8_t L[kQK];
  float scales[16];
  for (int j = 0; j < 16; ++j) scales[j] = ggml_search::make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
  const float max_scale = ggml_search::largest_magnitude(16, scales);
  if (max_scale != 0.0f) {
    const float iscale = -32.0f / max_scale;
    int8_t ls[16];
    for (int j = 0; j < 16; ++j) {
      const auto l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      ls[j] = static_cast<int8_t>(std::max<int>(-32, std::min<int>(31, l)) + 32);
    }
    put_q3_k_scales(g.header.data() + 96, ls);
    put_f16(g.header.data() + 108, 1 / iscale);
  } else {
    put_f16(g.header.data() + 108, 0.0f);
  }
  finish_k_grid(g, L, 4);
  return g;
}

// Q4_K (nmax 15) and Q5_K (nmax 31), reference: make_qkx2_quants with weights av_x + |x| per
// sub-block of 32, then 6-bit scales and mins relative to the largest.
GgmlGrid qk_asym_grid(GgmlType type, const float* x, int nmax, float rmin, int nstep) {
  GgmlGrid g = new_grid(type);
  uint8_t L[kQK], Laux[32], ls[8], lm[8];
  float weights[32], mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = ggml_search::make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f,
                                              nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  for (int j = 0; j < 8; ++j) {
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  put_k4_header(g.header.data(), max_scale / 63.0f, max_min / 63.0f, ls, lm);
  finish_k_grid(g, L, 0);
  return g;
}

// Q6_K: make_qx_quants per sub-block of 16 (weights x^2, or the importance), int8 scales relative to
// the largest in magnitude. A block whose scales are all below GROUP_MAX_EPS is stored as zeros.
GgmlGrid q6_k_grid(const float* x, const float* qw) {
  GgmlGrid g = new_grid(GgmlType::kQ6_K);
  int8_t L[kQK];
  float scales[16];
  for (int ib = 0; ib < 16; ++ib)
    scales[ib] = ggml_search::make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw ? qw + 16 * ib : nullptr);
  const float max_scale = ggml_search::largest_magnitude(16, scales);
  g.rounding = GgmlRounding::kNearestDiv;
  if (std::fabs(max_scale) < ggml_search::kGroupMaxEps) {
    g.zero_code.fill(-32);  // all bytes zero: storage 0 is code -32
    finish_grid(g);
    return g;
  }
  const float iscale = -128.0f / max_scale;
  put_f16(g.header.data() + 208, 1 / iscale);
  for (int ib = 0; ib < 16; ++ib)
    g.header[192 + ib] = static_cast<uint8_t>(static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib]))));
  finish_k_grid(g, L, 32);
  return g;
}

void check_finite(GgmlType type, const float* x, int n, const char* what) {
  for (int j = 0; j < n; ++j)
    HESSQ_CHECK(std::isfinite(x[j]), "ggml {}: {} element {} of the block is {} (finite values expected)",
                type_name(type), what, j, x[j]);
}

// The code of a legacy kTruncBiased rounding, as ggml's (int8_t)(v) then MIN(umax, .), with values
// outside ggml's own domain clamped instead of wrapping.
int trunc_code(float v, int umax) {
  if (!(v >= 0.0f)) return 0;
  if (v >= static_cast<float>(umax)) return umax;
  return static_cast<int>(v);
}

// The code of x in sub-block s by the grid's rounding (ignoring a zero scale).
int rounded_code(const GgmlGrid& g, int s, float x) {
  switch (g.rounding) {
    case GgmlRounding::kTruncBiased:
      return trunc_code((x - g.off[s]) * g.inv[s] + g.bias, g.shape.qmax - g.shape.qmin) + g.shape.qmin;
    case GgmlRounding::kRoundAway:
      return static_cast<int>(std::round(std::clamp(x * g.inv[s], -128.0f, 127.0f)));
    case GgmlRounding::kNearestMul:  // off is 0 for the symmetric types: x - 0 is x
      return std::clamp(nearest_int(g.inv[s] * (x - g.off[s])), g.shape.qmin, g.shape.qmax);
    case GgmlRounding::kNearestDiv:
      return std::clamp(nearest_int((x - g.dq.min[s]) / g.dq.scale[s]), g.shape.qmin, g.shape.qmax);
  }
  return 0;
}

}  // namespace

bool ggml_supports_importance(GgmlType type) {
  return ggml_has_block_codec(ggml_id(type)) && type != GgmlType::kQ8_0;  // ggml's Q8_0 ignores quant_weights
}

GgmlGrid ggml_block_grid(GgmlType type, const float* x, const float* importance, float row_sigma2) {
  const GgmlBlockShape shape = ggml_block_shape(type);
  check_finite(type, x, shape.block, "value");
  if (importance) {
    HESSQ_CHECK(ggml_supports_importance(type),
                "ggml {}: ggml has no importance-weighted quantizer for this type",
                type_name(type));
    check_finite(type, importance, shape.block, "importance");
    for (int j = 0; j < shape.block; ++j)
      HESSQ_CHECK(importance[j] >= 0, "ggml {}: importance element {} of the block is negative ({})", type_name(type),
                  j, importance[j]);
  }
  GgmlGrid g;
  if (importance && type != GgmlType::kQ6_K) return ggml_weighted::weighted_grid(type, x, importance, row_sigma2);
  switch (type) {
    case GgmlType::kQ4_0: g = legacy_sym_grid(type, x, 8); break;
    case GgmlType::kQ5_0: g = legacy_sym_grid(type, x, 16); break;
    case GgmlType::kQ4_1: g = legacy_asym_grid(type, x, 4); break;
    case GgmlType::kQ5_1: g = legacy_asym_grid(type, x, 5); break;
    case GgmlType::kQ8_0: g = q8_0_grid(x); break;
    case GgmlType::kQ2_K: g = q2_k_grid(x); break;
    case GgmlType::kQ3_K: g = q3_k_grid(x); break;
    case GgmlType::kQ4_K: g = qk_asym_grid(type, x, 15, -1.0f, 20); break;
    case GgmlType::kQ5_K: g = qk_asym_grid(type, x, 31, -0.5f, 15); break;
    case GgmlType::kQ6_K: g = q6_k_grid(x, importance); break;
    default: HESSQ_FAIL("ggml {}: no block codec", type_name(type));
  }
  // The legacy roundings have no special case for a zero scale: the codes ggml stores there are
  // the rounding's own.
  if (g.rounding == GgmlRounding::kTruncBiased || g.rounding == GgmlRounding::kRoundAway)
    for (int j = 0; j < shape.block; ++j) g.zero_code[j] = static_cast<int8_t>(rounded_code(g, 0, x[j]));
  return g;
}

std::vector<GgmlGrid> ggml_row_grids(GgmlType type, const float* x, int64_t n, const float* importance) {
  const GgmlBlockShape shape = ggml_block_shape(type);
  HESSQ_CHECK(n >= 0 && n % shape.block == 0,
              "ggml {}: a row of {} elements is not a whole number of {}-element blocks", type_name(type), n,
              shape.block);
  float sigma2 = 0;
  if (importance && shape.block == 32) {  // the weighted Q4_0, Q4_1, Q5_0, Q5_1 use the row's sigma2
    float sum_x2 = 0;
    for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
    sigma2 = sum_x2 / static_cast<float>(n);
  }
  std::vector<GgmlGrid> grids(static_cast<size_t>(n / shape.block));
  for (size_t b = 0; b < grids.size(); ++b) {
    const int64_t at = static_cast<int64_t>(b) * shape.block;
    grids[b] = ggml_block_grid(type, x + at, importance ? importance + at : nullptr, sigma2);
  }
  return grids;
}

int ggml_grid_code(const GgmlGrid& g, int j, float x) {
  const int s = j / g.shape.sub;
  return g.dq.scale[s] == 0.0f ? g.zero_code[j] : rounded_code(g, s, x);
}


float ggml_grid_value(const GgmlGrid& g, int j, int code) {
  const int s = j / g.shape.sub;
  return ggml_code_value(g.shape, g.dq.scale[s], g.dq.min[s], code);
}

void ggml_pack_codes(const GgmlGrid& g, const int* codes, uint8_t* block) {
  std::memcpy(block, g.header.data(), static_cast<size_t>(g.shape.bytes));
  for (int j = 0; j < g.shape.block; ++j) {
    HESSQ_CHECK(codes[j] >= g.shape.qmin && codes[j] <= g.shape.qmax,
                "ggml {}: code {} of element {} is outside [{}, {}]", type_name(g.type), codes[j], j, g.shape.qmin,
                g.shape.qmax);
    ggml_set_block_code(g.type, block, j, codes[j]);
  }
}

void ggml_pack_values(const GgmlGrid& g, const float* values, uint8_t* block) {
  std::array<int, kGgmlMaxBlock> codes{};
  for (int j = 0; j < g.shape.block; ++j) {
    const int s = j / g.shape.sub;
    const float v = values[j];
    const auto same = [&](int q) { return std::bit_cast<uint32_t>(ggml_grid_value(g, j, q)) == std::bit_cast<uint32_t>(v); };
    int found = INT32_MIN;
    if (g.dq.scale[s] == 0.0f) {
      if (ggml_grid_value(g, j, g.zero_code[j]) == v) found = g.zero_code[j];
    } else {
      // The nearest code of the dequantized grid, then its neighbours, then every code.
      const int q0 = std::clamp(nearest_int((v - g.dq.min[s]) / g.dq.scale[s]), g.shape.qmin, g.shape.qmax);
      for (int q : {q0, q0 - 1, q0 + 1})
        if (found == INT32_MIN && q >= g.shape.qmin && q <= g.shape.qmax && same(q)) found = q;
      for (int q = g.shape.qmin; found == INT32_MIN && q <= g.shape.qmax; ++q)
        if (same(q)) found = q;
    }
    HESSQ_CHECK(found != INT32_MIN, "ggml {}: value {} of element {} is not on the block's grid (scale {}, min {})",
                type_name(g.type), v, j, g.dq.scale[s], g.dq.min[s]);
    codes[static_cast<size_t>(j)] = found;
  }
  ggml_pack_codes(g, codes.data(), block);
}

void ggml_quantize_row(GgmlType type, const float* x, int64_t n, const float* importance, uint8_t* dst) {
  const std::vector<GgmlGrid> grids = ggml_row_grids(type, x, n, importance);
  const GgmlBlockShape shape = ggml_block_shape(type);
  std::array<int, kGgmlMaxBlock> codes{};
  for (size_t b = 0; b < grids.size(); ++b) {
    const float* xb = x + static_cast<int64_t>(b) * shape.block;
    for (int j = 0; j < shape.block; ++j) codes[static_cast<size_t>(j)] = ggml_grid_code(grids[b], j, xb[j]);
    ggml_pack_codes(grids[b], codes.data(), dst + b * static_cast<size_t>(shape.bytes));
  }
}

void ggml_quantize_row_ref(GgmlType type, const float* x, int64_t n, uint8_t* dst) {
  ggml_quantize_row(type, x, n, nullptr, dst);
}

}  // namespace hessq::formats
