// MXFP4 and MXFP8 (OCP Microscaling Formats (MX) Specification v1.0, 2023; Rouhani et al. 2023,
// arXiv:2310.10537): blocks of kMxBlock = 32 consecutive values along the input dim share one
// power-of-two scale stored as E8M0 (byte = exponent + 127; 255 = NaN is never produced).
//   1. e = floor(log2 amax_block) - emax_elem, emax_elem = 2 (E2M1, MXFP4) or 8 (E4M3, MXFP8),
//      clamped to the E8M0 range [-127, 127]; METHODS.md: scale 2^(floor(log2 amax) - 2) for MXFP4.
//   2. code = E2M1 / E4M3 (x / 2^e), round to nearest even, saturating at the element max (6 / 448):
//      amax / 2^e lies in [2^emax, 2^(emax+1)), so the top of each block may saturate (as in the spec).
//   3. x^ = value(code) * 2^e (exact).
// [choice] An all-zero block gets e = -127 (byte 0) and codes 0.
// Padding: cols need not be a multiple of 32; a partial trailing block is quantized as if
// zero-padded and the padding is dropped; scales are stored for [rows, ceil(cols / 32)].
#pragma once
#include <cstdint>

#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {

constexpr int kMxBlock = 32;

// E8M0 scale byte of a block with the given amax, for element max exponent emax_elem.
uint8_t mx_scale_byte(float amax, int emax_elem);
float mx_scale_value(uint8_t b);  // 2^(b - 127); NaN for 255

int64_t mx_num_scales(const QuantSpec& spec, int64_t rows, int64_t cols);
void mx_fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out);
Packed mx_pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols);
void mx_unpack(const QuantSpec& spec, const Packed& p, int64_t rows, int64_t cols, float* out);

}  // namespace hessq::formats
