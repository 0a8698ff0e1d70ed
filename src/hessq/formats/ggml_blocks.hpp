// Byte layouts of ggml's block-quantized types (ggml-common.h) and their dequantization, bit-exact
// with ggml's dequantize_row_*. Every element of a block has an integer code q and belongs to a
// sub-block s with a float scale and min, computed from the block's header bytes exactly as ggml
// does; its value is scale[s] * q (+ min[s] for the types with a min, a negated "ml" for the
// K-quants). f16 = IEEE binary16, little-endian; "nib(qs, j)" = the low nibble of qs[j] for j < 16,
// the high nibble of qs[j - 16] otherwise; bits are numbered from the least significant.
//
//   Q4_0  32 elts, 18 B  [f16 d][16 B qs]             q = nib(qs, j) - 8            value = d*q
//   Q4_1  32 elts, 20 B  [f16 d][f16 m][16 B qs]      q = nib(qs, j)                value = d*q + m
//   Q5_0  32 elts, 22 B  [f16 d][u32 qh][16 B qs]     q = (nib(qs, j) | bit j of qh << 4) - 16, value = d*q
//   Q5_1  32 elts, 24 B  [f16 d][f16 m][u32 qh][16 B qs]  q = nib(qs, j) | bit j of qh << 4, value = d*q + m
//   Q8_0  32 elts, 34 B  [f16 d][32 x i8 qs]          q = qs[j]                     value = d*q
//
// The K-quants hold 256 elements; write j = 128 h + 32 k + l (h half, k quarter, l < 32).
//   Q2_K  84 B   [16 B scales][64 B qs][f16 d][f16 dmin]         16 sub-blocks of 16
//         q = (qs[32 h + l] >> 2k) & 3;  sub-block s = j / 16: scale = d * (scales[s] & 15),
//         value = scale*q - dmin * (scales[s] >> 4)
//   Q3_K  110 B  [32 B hmask][64 B qs][12 B scales][f16 d]       16 sub-blocks of 16
//         q = ((qs[32 h + l] >> 2k) & 3 | (bit j/32 of hmask[j % 32]) << 2) - 4
//         6-bit scale code of s: low 4 bits = nibble s of scales[0..7] (s < 8 low nibbles, s >= 8
//         high nibbles), high 2 bits = bits 2(s/4)..2(s/4)+1 of scales[8 + s % 4];
//         value = (d * (code - 32)) * q
//   Q4_K  144 B  [f16 d][f16 dmin][12 B scales][128 B qs]        8 sub-blocks of 32
//         j = 64 c + w: q = w < 32 ? qs[32 c + w] & 15 : qs[32 c + w - 32] >> 4
//         6-bit scale sc and min mn of s (get_scale_min_k4): s < 4: sc = scales[s] & 63,
//         mn = scales[s+4] & 63; s >= 4: sc = scales[s+4] & 15 | (scales[s-4] >> 6) << 4,
//         mn = scales[s+4] >> 4 | (scales[s] >> 6) << 4;   value = (d*sc)*q - dmin*mn
//   Q5_K  176 B  [f16 d][f16 dmin][12 B scales][32 B qh][128 B qs]   8 sub-blocks of 32
//         q = (Q4_K's nibble) | (bit 2c + (w >= 32) of qh[w % 32]) << 4; scales as Q4_K
//   Q6_K  210 B  [128 B ql][64 B qh][16 x i8 scales][f16 d]      16 sub-blocks of 16
//         q = ((ql[64 h + l + 32 (k & 1)] >> 4 (k >> 1)) & 15 | ((qh[32 h + l] >> 2k) & 3) << 4) - 32
//         value = (d * scales[j / 16]) * q
#pragma once
#include <array>
#include <cstdint>

#include "hessq/formats/ggml_types.hpp"

namespace hessq::formats {

constexpr int kGgmlMaxBlockBytes = 210;  // Q6_K
constexpr int kGgmlMaxSubBlocks = 16;
constexpr int kGgmlMaxBlock = 256;       // QK_K

// The code grid of a block-quantized type.
struct GgmlBlockShape {
  int block;     // elements per block: 32 or 256
  int bytes;     // bytes per block
  int sub;       // elements per sub-block (sharing one scale and min)
  int qmin;      // code range [qmin, qmax]
  int qmax;
  bool has_min;  // value = scale*q + min (otherwise scale*q)
};
// Throws unless ggml_has_block_codec(type).
GgmlBlockShape ggml_block_shape(GgmlType type);
GgmlType ggml_block_type(uint32_t id);  // the id as a GgmlType; throws unless it has a block codec

// Per sub-block scale and min, as dequantize_row_* computes them from the block's header bytes.
struct GgmlSubScales {
  std::array<float, kGgmlMaxSubBlocks> scale{};
  std::array<float, kGgmlMaxSubBlocks> min{};  // 0 for the types without a min
};
GgmlSubScales ggml_block_scales(GgmlType type, const uint8_t* block);

// Code of element j of a block, and storing it into a block whose bits for j are zero
// (the code must lie in [qmin, qmax]).
int ggml_block_code(GgmlType type, const uint8_t* block, int j);
void ggml_set_block_code(GgmlType type, uint8_t* block, int j, int code);

// The value of `code` in a sub-block of (scale, min), with ggml's float operations.
float ggml_code_value(const GgmlBlockShape& shape, float scale, float min, int code);

// n elements (a multiple of the block size, else throws) of ggml type `type` to fp32, bit-exact with
// ggml's dequantize_row_*.
void ggml_dequantize(GgmlType type, const uint8_t* src, int64_t n, float* dst);

}  // namespace hessq::formats
