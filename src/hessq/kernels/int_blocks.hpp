// IntBlockLayout: the packed layout of INT-b weights (b = 2..8, symmetric or asymmetric, one scale
// per group of g = 32k input values or per output channel) that a .hessq stores and that the decode
// kernels (int_gemv.hpp) compute on. Codes take exactly b bits per weight.
//
// A row of W [m, n] is a sequence of groups; a group is a header followed by g / 32 blocks:
//
//   group:  | scale F16 (LE) | zero U8 (asymmetric only) | block 0 | block 1 | ... | block g/32-1 |
//   block:  32 unsigned codes u in [0, 2^b - 1], 4b bytes, as bit planes, lowest bits first:
//             b = 8          32 bytes, byte i = u_i
//             b >= 4 (not 8) nibble plane, 16 bytes: byte j = (u_j & 15) | (u_{j+16} & 15) << 4
//             then, for the bits above (b mod 4 >= 2, or b = 2):
//                            2-bit plane, 8 bytes: byte j holds u_{j+8k}'s next 2 bits at bit 2k, k = 0..3
//             then, for odd b: 1-bit plane, 4 bytes: bit i of the little-endian u32 is u_i's top bit
//           (b = 2: 2-bit plane; 3: 2+1; 4: nibble; 5: nibble+1; 6: nibble+2; 7: nibble+2+1.)
//
// Each plane unpacks to 32 codes in order with a few SIMD instructions (a nibble plane is two
// 16-byte halves, a 2-bit plane four shifted copies of one u64, a 1-bit plane a byte shuffle + mask).
// Decoded value (METHODS.md INT-b, formats/int_quant.hpp): w = (u - z) * s with s the F16 scale and
// z the zero point: asymmetric z is the stored byte, symmetric z = 2^(b-1) (u = q + 2^(b-1) for the
// two's-complement code q), so every path decodes to exactly the floats fake_quant produces.
//
// Per channel the group is the whole row, n rounded up to a multiple of 32; per group, n is padded
// to a multiple of g (the quantizer's zero padding, model/quantized_linear.hpp). Padding codes decode
// to 0 and are multiplied by zero-padded inputs.
#pragma once
#include <cstdint>
#include <string>

namespace hessq::kernels {

constexpr int kIntBlock = 32;  // codes per block, and the activation quantizer's block (int_gemv.hpp)

struct IntBlockLayout {
  int bits = 4;          // 2..8
  bool asym = false;     // a zero-point byte per group
  int64_t rows = 0;      // m, output features
  int64_t cols = 0;      // n, real input features
  int64_t group = 0;     // values per group: a multiple of 32 (per channel: n rounded up to 32)

  // group = 0 means per channel. Throws hessq::Error naming `what` if bits or group are not supported.
  static IntBlockLayout make(int bits, bool asym, int64_t rows, int64_t cols, int64_t group, const std::string& what);
  // Whether a format with this group size (0: per channel) has a block layout.
  static bool supports(int bits, int64_t group) { return bits >= 2 && bits <= 8 && group % kIntBlock == 0; }

  int64_t groups_per_row() const { return (cols + group - 1) / group; }
  int64_t padded_cols() const { return groups_per_row() * group; }
  int header_bytes() const { return asym ? 3 : 2; }
  int block_bytes() const { return 4 * bits; }
  int64_t group_bytes() const { return header_bytes() + group / kIntBlock * block_bytes(); }
  int64_t row_bytes() const { return groups_per_row() * group_bytes(); }
  int64_t total_bytes() const { return rows * row_bytes(); }
  int symmetric_zero() const { return 1 << (bits - 1); }
  std::string describe() const;  // "int4 g128 sym [m, n]"
};

// A group's header at p: its F16 scale as fp32 and its zero point (symmetric: 2^(bits-1)).
struct IntGroupHeader {
  float scale;
  int zero;
};
IntGroupHeader read_group_header(const IntBlockLayout& L, const uint8_t* p);

// One block's 32 codes <-> its 4 * bits bytes (the planes above). Codes must be < 2^bits.
void encode_int_block(const uint8_t* codes, int bits, uint8_t* out);
void decode_int_block(const uint8_t* in, int bits, uint8_t* codes);

// Rows [r0, r1) of W decoded to fp32, the first `cols` values of each row, into out [r1 - r0, cols].
void dequantize_int_rows(const IntBlockLayout& L, const uint8_t* data, int64_t r0, int64_t r1, float* out);

}  // namespace hessq::kernels
