// The tensors of one NVFP4 linear in compressed-tensors' "nvfp4-pack-quantized" format, as
// llm-compressor writes them and vLLM reads them (neuralmagic/compressed-tensors,
// src/compressed_tensors/compressors/quantized_compressors/fp4_quantized.py and
// src/compressed_tensors/quantization/lifecycle/forward.py `_dequantize`):
//
//   weight_packed        U8      [m, n / 2]   E2M1 codes, two per byte, low nibble = even column
//   weight_scale         F8_E4M3 [m, n / 16]  one scale per 1 x 16 block
//   weight_global_scale  F32     [1]
//   w = e2m1(code) * (weight_scale / weight_global_scale)        (in F32)
//
// The global scale is a divisor: llm-compressor computes it as 448 * 6 / amax (quantization/utils/
// helpers.py, generate_gparam) and the block scale as E4M3(global * amax_block / 6). hessq's NVFP4
// (formats/nvfp4.hpp) holds the multiplier g = amax / (6 * 448) and the same E4M3 block scale
// E4M3(amax_block / 6 / g), so the codes and scale bytes are written unchanged and
// weight_global_scale = 1 / g (rounded to F32). The dequantized values then equal hessq's
// (e2m1 * s) * g to within a few F32 roundings (|1/(1/g) - g| and the two products: relative 2^-21 at
// most), not bit for bit, unless g is a power of two.
//
// hessq's 16 x 16 tiles (nvfp4-2d) map exactly: every row of a tile gets the tile's scale byte.
// Not expressible (refused, naming the tensor): the reference mode nvfp4-ref (its scales are not
// E4M3 bytes and it has no global scale), and an input size that is not a multiple of 16
// (compressed-tensors requires the group size to divide the columns).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hessq/core/tensor.hpp"
#include "hessq/model/quantized_linear.hpp"

namespace hessq::exporting {

struct Nvfp4CtTensors {
  std::vector<uint8_t> weight_packed;  // [m, n / 2]
  std::vector<uint8_t> weight_scale;   // [m, n / 16], E4M3 bytes
  float weight_global_scale = 1.0f;
  Shape packed_shape, scale_shape;
};

// Throws naming `name` if q is not an NVFP4 weight compressed-tensors can hold (see above).
void check_ct_nvfp4_expressible(const model::QuantizedLinear& q, const std::string& name);

// Output row j is row row_order[j] of q (empty: identity), for the q/k RoPE layout conversion.
Nvfp4CtTensors ct_nvfp4_tensors(const model::QuantizedLinear& q, std::span<const int64_t> row_order,
                                const std::string& name);

}  // namespace hessq::exporting
