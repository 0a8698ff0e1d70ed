// Compiled with -ffp-contract=off (CMakeLists.txt): ggml's arithmetic is never fused into FMAs.
#include "hessq/formats/ggml_blocks.hpp"

#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"

namespace hessq::formats {

namespace {

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Nibble j of a 32-element nibble array: low nibbles hold elements 0..15, high nibbles 16..31.
int nib32(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 15 : qs[j - 16] >> 4; }
void set_nib32(uint8_t* qs, int j, int u) {
  if (j < 16) qs[j] |= static_cast<uint8_t>(u);
  else qs[j - 16] |= static_cast<uint8_t>(u << 4);
}

// Q4_K / Q5_K 6-bit scale and min of sub-block s (ggml's get_scale_min_k4).
void scale_min_k4(const uint8_t* q, int s, int& sc, int& mn) {
  if (s < 4) {
    sc = q[s] & 63;
    mn = q[s + 4] & 63;
  } else {
    sc = (q[s + 4] & 0xF) | ((q[s - 4] >> 6) << 4);
    mn = (q[s + 4] >> 4) | ((q[s] >> 6) << 4);
  }
}

// Q3_K 6-bit scale code of sub-block s.
int q3k_scale(const uint8_t* sc, int s) {
  const int low = s < 8 ? sc[s] & 15 : sc[s - 8] >> 4;
  const int high = (sc[8 + s % 4] >> (2 * (s / 4))) & 3;
  return low | (high << 4);
}

// Unsigned storage u of element j; code = u - offset (Q8_0 stores the signed byte itself).
template <GgmlType T>
int code_at(const uint8_t* b, int j) {
  if constexpr (T == GgmlType::kQ4_0) {
    return nib32(b + 2, j) - 8;
  } else if constexpr (T == GgmlType::kQ4_1) {
    return nib32(b + 4, j);
  } else if constexpr (T == GgmlType::kQ5_0 || T == GgmlType::kQ5_1) {
    const int off = T == GgmlType::kQ5_0 ? 2 : 4;
    uint32_t qh;
    std::memcpy(&qh, b + off, 4);
    const int u = nib32(b + off + 4, j) | static_cast<int>(((qh >> j) & 1u) << 4);
    return T == GgmlType::kQ5_0 ? u - 16 : u;
  } else if constexpr (T == GgmlType::kQ8_0) {
    return static_cast<int8_t>(b[2 + j]);
  } else if constexpr (T == GgmlType::kQ2_K || T == GgmlType::kQ3_K) {
    const int h = j / 128, k = (j % 128) / 32, l = j % 32;
    const uint8_t* qs = b + (T == GgmlType::kQ2_K ? 16 : 32);
    const int low = (qs[32 * h + l] >> (2 * k)) & 3;
    if constexpr (T == GgmlType::kQ2_K) return low;
    const int high = (b[l] >> (j / 32)) & 1;  // hmask
    return (low | (high << 2)) - 4;
  } else if constexpr (T == GgmlType::kQ4_K || T == GgmlType::kQ5_K) {
    const int c = j / 64, w = j % 64;
    const uint8_t* qs = b + (T == GgmlType::kQ4_K ? 16 : 48);
    const int low = w < 32 ? qs[32 * c + w] & 15 : qs[32 * c + w - 32] >> 4;
    if constexpr (T == GgmlType::kQ4_K) return low;
    const int high = (b[16 + w % 32] >> (2 * c + (w >= 32 ? 1 : 0))) & 1;  // qh
    return low | (high << 4);
  } else {
    static_assert(T == GgmlType::kQ6_K);
    const int h = j / 128, k = (j % 128) / 32, l = j % 32;
    const int low = (b[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 15;
    const int high = (b[128 + 32 * h + l] >> (2 * k)) & 3;
    return (low | (high << 4)) - 32;
  }
}

template <GgmlType T>
void set_code_at(uint8_t* b, int j, int code) {
  if constexpr (T == GgmlType::kQ4_0) {
    set_nib32(b + 2, j, code + 8);
  } else if constexpr (T == GgmlType::kQ4_1) {
    set_nib32(b + 4, j, code);
  } else if constexpr (T == GgmlType::kQ5_0 || T == GgmlType::kQ5_1) {
    const int off = T == GgmlType::kQ5_0 ? 2 : 4;
    const int u = T == GgmlType::kQ5_0 ? code + 16 : code;
    set_nib32(b + off + 4, j, u & 15);
    b[off + j / 8] |= static_cast<uint8_t>(((u >> 4) & 1) << (j % 8));  // bit j of the u32 qh
  } else if constexpr (T == GgmlType::kQ8_0) {
    b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(code));
  } else if constexpr (T == GgmlType::kQ2_K || T == GgmlType::kQ3_K) {
    const int h = j / 128, k = (j % 128) / 32, l = j % 32;
    const int u = T == GgmlType::kQ2_K ? code : code + 4;
    uint8_t* qs = b + (T == GgmlType::kQ2_K ? 16 : 32);
    qs[32 * h + l] |= static_cast<uint8_t>((u & 3) << (2 * k));
    if constexpr (T == GgmlType::kQ3_K) b[l] |= static_cast<uint8_t>(((u >> 2) & 1) << (j / 32));
  } else if constexpr (T == GgmlType::kQ4_K || T == GgmlType::kQ5_K) {
    const int c = j / 64, w = j % 64;
    uint8_t* qs = b + (T == GgmlType::kQ4_K ? 16 : 48);
    if (w < 32) qs[32 * c + w] |= static_cast<uint8_t>(code & 15);
    else qs[32 * c + w - 32] |= static_cast<uint8_t>((code & 15) << 4);
    if constexpr (T == GgmlType::kQ5_K)
      b[16 + w % 32] |= static_cast<uint8_t>(((code >> 4) & 1) << (2 * c + (w >= 32 ? 1 : 0)));
  } else {
    static_assert(T == GgmlType::kQ6_K);
    const int h = j / 128, k = (j % 128) / 32, l = j % 32;
    const int u = code + 32;
    b[64 * h + l + 32 * (k & 1)] |= static_cast<uint8_t>((u & 15) << (4 * (k >> 1)));
    b[128 + 32 * h + l] |= static_cast<uint8_t>(((u >> 4) & 3) << (2 * k));
  }
}

template <GgmlType T>
GgmlSubScales scales_of(const uint8_t* b) {
  GgmlSubScales s;
  if constexpr (T == GgmlType::kQ4_0 || T == GgmlType::kQ5_0 || T == GgmlType::kQ8_0) {
    s.scale[0] = f16_at(b);
  } else if constexpr (T == GgmlType::kQ4_1 || T == GgmlType::kQ5_1) {
    s.scale[0] = f16_at(b);
    s.min[0] = f16_at(b + 2);
  } else if constexpr (T == GgmlType::kQ2_K) {
    const float d = f16_at(b + 80), dmin = f16_at(b + 82);
    for (int i = 0; i < 16; ++i) {
      s.scale[i] = d * static_cast<float>(b[i] & 0xF);
      s.min[i] = -(dmin * static_cast<float>(b[i] >> 4));
    }
  } else if constexpr (T == GgmlType::kQ3_K) {
    const float d = f16_at(b + 108);
    for (int i = 0; i < 16; ++i) s.scale[i] = d * static_cast<float>(q3k_scale(b + 96, i) - 32);
  } else if constexpr (T == GgmlType::kQ4_K || T == GgmlType::kQ5_K) {
    const float d = f16_at(b), dmin = f16_at(b + 2);
    for (int i = 0; i < 8; ++i) {
      int sc, mn;
      scale_min_k4(b + 4, i, sc, mn);
      s.scale[i] = d * static_cast<float>(sc);
      s.min[i] = -(dmin * static_cast<float>(mn));
    }
  } else {
    static_assert(T == GgmlType::kQ6_K);
    const float d = f16_at(b + 208);
    for (int i = 0; i < 16; ++i) s.scale[i] = d * static_cast<float>(static_cast<int8_t>(b[192 + i]));
  }
  return s;
}

constexpr GgmlBlockShape shape_of(GgmlType t) {
  switch (t) {
    case GgmlType::kQ4_0: return {32, 18, 32, -8, 7, false};
    case GgmlType::kQ4_1: return {32, 20, 32, 0, 15, true};
    case GgmlType::kQ5_0: return {32, 22, 32, -16, 15, false};
    case GgmlType::kQ5_1: return {32, 24, 32, 0, 31, true};
    case GgmlType::kQ8_0: return {32, 34, 32, -128, 127, false};
    case GgmlType::kQ2_K: return {256, 84, 16, 0, 3, true};
    case GgmlType::kQ3_K: return {256, 110, 16, -4, 3, false};
    case GgmlType::kQ4_K: return {256, 144, 32, 0, 15, true};
    case GgmlType::kQ5_K: return {256, 176, 32, 0, 31, true};
    case GgmlType::kQ6_K: return {256, 210, 16, -32, 31, false};
    default: return {0, 0, 0, 0, 0, false};
  }
}

inline float value_of(bool has_min, float scale, float min, int code) {
  return has_min ? scale * static_cast<float>(code) + min : scale * static_cast<float>(code);
}

template <GgmlType T>
void dequantize_blocks(const uint8_t* src, int64_t n_blocks, float* dst) {
  constexpr GgmlBlockShape shape = shape_of(T);
#pragma omp parallel for if (n_blocks > 4096)
  for (int64_t i = 0; i < n_blocks; ++i) {
    const uint8_t* b = src + i * shape.bytes;
    float* y = dst + i * shape.block;
    const GgmlSubScales s = scales_of<T>(b);
    for (int j = 0; j < shape.block; ++j)
      y[j] = value_of(shape.has_min, s.scale[j / shape.sub], s.min[j / shape.sub], code_at<T>(b, j));
  }
}

// Calls f.template operator()<T>() with the type as a template argument.
template <class F>
decltype(auto) dispatch(GgmlType t, F&& f) {
  switch (t) {
    case GgmlType::kQ4_0: return f.template operator()<GgmlType::kQ4_0>();
    case GgmlType::kQ4_1: return f.template operator()<GgmlType::kQ4_1>();
    case GgmlType::kQ5_0: return f.template operator()<GgmlType::kQ5_0>();
    case GgmlType::kQ5_1: return f.template operator()<GgmlType::kQ5_1>();
    case GgmlType::kQ8_0: return f.template operator()<GgmlType::kQ8_0>();
    case GgmlType::kQ2_K: return f.template operator()<GgmlType::kQ2_K>();
    case GgmlType::kQ3_K: return f.template operator()<GgmlType::kQ3_K>();
    case GgmlType::kQ4_K: return f.template operator()<GgmlType::kQ4_K>();
    case GgmlType::kQ5_K: return f.template operator()<GgmlType::kQ5_K>();
    case GgmlType::kQ6_K: return f.template operator()<GgmlType::kQ6_K>();
    default: break;
  }
  HESSQ_FAIL("ggml type {} has no block codec in hessq (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K)",
             ggml_type_name(ggml_id(t)));
}

}  // namespace

GgmlBlockShape ggml_block_shape(GgmlType type) {
  const GgmlBlockShape s = shape_of(type);
  HESSQ_CHECK(s.block != 0, "ggml type {} has no block codec in hessq (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K)",
              ggml_type_name(ggml_id(type)));
  return s;
}

GgmlType ggml_block_type(uint32_t id) {
  const auto t = static_cast<GgmlType>(id);
  ggml_block_shape(t);
  return t;
}

GgmlSubScales ggml_block_scales(GgmlType type, const uint8_t* block) {
  return dispatch(type, [&]<GgmlType T>() { return scales_of<T>(block); });
}

int ggml_block_code(GgmlType type, const uint8_t* block, int j) {
  return dispatch(type, [&]<GgmlType T>() { return code_at<T>(block, j); });
}

void ggml_set_block_code(GgmlType type, uint8_t* block, int j, int code) {
  dispatch(type, [&]<GgmlType T>() { set_code_at<T>(block, j, code); });
}

float ggml_code_value(const GgmlBlockShape& shape, float scale, float min, int code) {
  return value_of(shape.has_min, scale, min, code);
}

void ggml_dequantize(GgmlType type, const uint8_t* src, int64_t n, float* dst) {
  const GgmlBlockShape shape = ggml_block_shape(type);
  HESSQ_CHECK(n >= 0 && n % shape.block == 0, "ggml {}: {} elements are not a whole number of {}-element blocks",
              ggml_type_name(ggml_id(type)), n, shape.block);
  dispatch(type, [&]<GgmlType T>() { dequantize_blocks<T>(src, n / shape.block, dst); });
}

}  // namespace hessq::formats
