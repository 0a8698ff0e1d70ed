// An INT-b quantized linear's codes, scales and zero points in one plain, unpacked form, whatever
// its .hessq layout (int blocks or planar), for writers of other engines' INT formats.
//
// Every weight is an unsigned code u in [0, 2^b - 1] with w = (u - z) * s (formats/int_quant.hpp):
//   asymmetric  u and z are the stored code and zero point;
//   symmetric   the signed code q (w = q * s) becomes u = q + 2^(b-1), and z = 2^(b-1)
// (kernels/int_blocks.hpp stores symmetric codes the same way). Scales are the F16 values stored.
// Groups run along the input dimension: `group` values per group, the last one ragged when it does
// not divide n (the quantizer zero-padded it; the padding is dropped here). Per channel, group = n;
// per tensor, the one scale is repeated for every row.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hessq/model/quantized_linear.hpp"

namespace hessq::exporting {

struct IntCodes {
  int bits = 4;
  bool symmetric = true;
  int64_t rows = 0, cols = 0;  // m (outputs), n (inputs)
  int64_t group = 0;           // inputs per group (n when per channel)
  std::vector<uint8_t> codes;  // [rows, cols], u
  std::vector<float> scales;   // [rows, groups()]
  std::vector<uint8_t> zeros;  // [rows, groups()], z (2^(b-1) everywhere when symmetric)

  int64_t groups() const { return (cols + group - 1) / group; }
  float value(int64_t r, int64_t c) const {  // w[r, c] = (u - z) * s
    const int64_t g = r * groups() + c / group;
    return (static_cast<float>(codes[r * cols + c]) - static_cast<float>(zeros[g])) * scales[g];
  }
};

// Throws hessq::Error naming `name` if q's format is not INT (its spec is named).
IntCodes int_codes(const model::QuantizedLinear& q, const std::string& name);

}  // namespace hessq::exporting
