// Compiled with -ffp-contract=off (CMakeLists.txt): sigma2 + x*x must not become a fused multiply-add.
#include "hessq/formats/ggml_grid_build.hpp"

#include <cmath>
#include <cstring>

#include "hessq/core/half.hpp"

namespace hessq::formats::ggml_grid_build {

float put_f16(uint8_t* p, float f) {
  const uint16_t h = f32_to_f16(f);
  std::memcpy(p, &h, 2);
  return f16_to_f32(h);
}

GgmlGrid new_grid(GgmlType type) {
  GgmlGrid g;
  g.type = type;
  g.shape = ggml_block_shape(type);
  return g;
}

void finish_grid(GgmlGrid& g) { g.dq = ggml_block_scales(g.type, g.header.data()); }

namespace {

template <class T>
void finish_k(GgmlGrid& g, const T* L, int offset) {
  g.rounding = GgmlRounding::kNearestDiv;
  for (int j = 0; j < kQK; ++j) g.zero_code[j] = static_cast<int8_t>(L[j] - offset);
  finish_grid(g);
}

}  // namespace

void finish_k_grid(GgmlGrid& g, const uint8_t* L, int offset) { finish_k(g, L, offset); }
void finish_k_grid(GgmlGrid& g, const int8_t* L, int offset) { finish_k(g, L, offset); }

void put_k4_header(uint8_t* block, float d, float dmin, const uint8_t* ls, const uint8_t* lm) {
  put_f16(block, d);
  put_f16(block + 2, dmin);
  uint8_t* s = block + 4;
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      s[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

void put_q3_k_scales(uint8_t* sc, const int8_t* codes) {
  // Low 4 bits: nibble j of bytes 0..7; high 2 bits: bits 2(j/4).. of byte 8 + j % 4.
  for (int j = 0; j < 16; ++j) {
    const int l = codes[j];
    if (j < 8) sc[j] = static_cast<uint8_t>(l & 0xF);
    else sc[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    sc[j % 4 + 8] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
  }
}

float importance_weights(int n, const float* x, const float* qw, float sigma2, float* w) {
  for (int i = 0; i < n; ++i) w[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
  float sum = 0;
  for (int i = 0; i < n; ++i) sum += w[i];
  return sum;
}

float sum_squares(int n, const float* x) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

}  // namespace hessq::formats::ggml_grid_build
