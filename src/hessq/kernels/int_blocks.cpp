#include "hessq/kernels/int_blocks.hpp"

#include <fmt/format.h>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"

namespace hessq::kernels {

IntBlockLayout IntBlockLayout::make(int bits, bool asym, int64_t rows, int64_t cols, int64_t group,
                                    const std::string& what) {
  HESSQ_CHECK(rows > 0 && cols > 0 && rows <= (int64_t{1} << 31) && cols <= (int64_t{1} << 31),
              "{}: [{}, {}] is not a matrix a layer can have", what, rows, cols);
  const int64_t g = group > 0 ? group : (cols + kIntBlock - 1) / kIntBlock * kIntBlock;
  HESSQ_CHECK(supports(bits, g), "{}: int{} with groups of {} has no block layout (bits 2..8, groups of 32k values)",
              what, bits, g);
  return IntBlockLayout{bits, asym, rows, cols, g};
}

std::string IntBlockLayout::describe() const {
  return fmt::format("int{} g{} {} [{}, {}]", bits, group, asym ? "asym" : "sym", rows, cols);
}

void encode_int_block(const uint8_t* u, int bits, uint8_t* out) {
  if (bits == 8) {
    for (int i = 0; i < kIntBlock; ++i) out[i] = u[i];
    return;
  }
  int shift = 0;
  if (bits >= 4) {
    for (int j = 0; j < 16; ++j) out[j] = static_cast<uint8_t>((u[j] & 15) | (u[j + 16] & 15) << 4);
    out += 16;
    shift = 4;
  }
  if (bits - shift >= 2) {
    for (int j = 0; j < 8; ++j) {
      uint8_t b = 0;
      for (int k = 0; k < 4; ++k) b |= static_cast<uint8_t>(((u[j + 8 * k] >> shift) & 3) << (2 * k));
      out[j] = b;
    }
    out += 8;
    shift += 2;
  }
  if (bits - shift == 1) {
    for (int j = 0; j < 4; ++j) out[j] = 0;
    for (int i = 0; i < kIntBlock; ++i) out[i / 8] |= static_cast<uint8_t>(((u[i] >> shift) & 1) << (i % 8));
  }
}

void decode_int_block(const uint8_t* in, int bits, uint8_t* u) {
  if (bits == 8) {
    for (int i = 0; i < kIntBlock; ++i) u[i] = in[i];
    return;
  }
  for (int i = 0; i < kIntBlock; ++i) u[i] = 0;
  int shift = 0;
  if (bits >= 4) {
    for (int j = 0; j < 16; ++j) {
      u[j] = in[j] & 15;
      u[j + 16] = in[j] >> 4;
    }
    in += 16;
    shift = 4;
  }
  if (bits - shift >= 2) {
    for (int j = 0; j < 8; ++j)
      for (int k = 0; k < 4; ++k) u[j + 8 * k] |= static_cast<uint8_t>(((in[j] >> (2 * k)) & 3) << shift);
    in += 8;
    shift += 2;
  }
  if (bits - shift == 1)
    for (int i = 0; i < kIntBlock; ++i) u[i] |= static_cast<uint8_t>(((in[i / 8] >> (i % 8)) & 1) << shift);
}

IntGroupHeader read_group_header(const IntBlockLayout& L, const uint8_t* p) {
  return {f16_to_f32(static_cast<uint16_t>(p[0] | p[1] << 8)), L.asym ? p[2] : L.symmetric_zero()};
}

void dequantize_int_rows(const IntBlockLayout& L, const uint8_t* data, int64_t r0, int64_t r1, float* out) {
  const int64_t blocks = L.group / kIntBlock;
  uint8_t u[kIntBlock];
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* p = data + r * L.row_bytes();
    float* o = out + (r - r0) * L.cols;
    for (int64_t g = 0; g < L.groups_per_row(); ++g, p += L.group_bytes()) {
      const auto [s, z] = read_group_header(L, p);
      const uint8_t* b = p + L.header_bytes();
      for (int64_t k = 0; k < blocks; ++k, b += L.block_bytes()) {
        decode_int_block(b, L.bits, u);
        const int64_t c0 = g * L.group + k * kIntBlock;
        for (int i = 0; i < kIntBlock && c0 + i < L.cols; ++i)
          o[c0 + i] = static_cast<float>(static_cast<int>(u[i]) - z) * s;
      }
    }
  }
}

}  // namespace hessq::kernels
