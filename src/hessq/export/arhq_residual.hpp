// One projection's quantized residual Q_w(W_res) in the two forms of the ARHQ reference artifact
// (export/arhq_artifact.hpp; BeautMoonQ/ARHQ arhq/export_model.py and arhq/quant.py):
//
//   fp16        <proj>.W_res_q [m, n] F16: the dequantized residual, which the reference runtime uses
//               as it is. From hessq's W_q (QuantizedLinear::dequantized()) rounded to the nearest f16
//               (round to nearest even). Exact for nvfp4-ref weights (an E2M1 value times an
//               e4m3_sim scale has at most 6 significant bits) unless a value falls below the f16
//               normal range; with an FP32 global scale (nvfp4, nvfp4-2d) the f16 rounding is the
//               only change (relative 2^-11 at most). A value beyond the f16 range is an error.
//   packed4bit  the reference's 16x16-block layout, padded to H = ceil(m/16)*16, W = ceil(n/16)*16:
//               <proj>.W_res_packed  U8 [ceil(H W / 2)]: one 4-bit *codebook index* per element of the
//                                    padded [H, W] matrix in row-major order, two per byte, low nibble
//                                    first; padding elements hold index 7 (the value 0)
//               <proj>.W_res_scale   F16 [H/16, W/16]: one scale per 16x16 tile
//               <proj>.W_res_orig_shape / W_res_padded_shape / W_res_block_shape  I32 [2]
//               element = codebook[index] * scale, codebook = [-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5,
//               1, 1.5, 2, 3, 4, 6] (15 entries, ascending).
//   Conversion from hessq's packed NVFP4 (formats/quant_spec.hpp "Storage"): hessq stores E2M1 codes
//   (fp4.hpp: sign in bit 3, magnitude index 0..7 into 0, 0.5, 1, 1.5, 2, 3, 4, 6), so
//   index = 7 + magnitude for a positive code and 7 - magnitude for a negative one (-0 becomes +0);
//   the tile scale is hessq's e4m3_sim value (nvfp4-ref, stored F32) or its E4M3 byte's value times
//   the FP32 global scale (nvfp4-2d). The packed form exists only for weights in 16x16 tiles whose
//   rows are not reordered, and only when every tile scale is exactly an f16 value: the result is
//   checked element by element against hessq's decoded weight (same float value) and refused naming
//   the tensor otherwise, so the packed form never differs from what hessq runs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hessq/model/quantized_linear.hpp"

namespace hessq::exporting {

// The reference codebook index of an E2M1 code (fp4.hpp), 0..14.
uint8_t arhq_codebook_index(uint8_t e2m1_code);
// The reference codebook value of an index 0..14.
float arhq_codebook_value(uint8_t index);

// hessq's W_q [m, n] as F16 bits, row r of the result = row row_order[r] of W_q (row_order empty:
// the identity). Throws naming `name` if a value overflows f16. `inexact`, if given, receives the
// number of values the f16 rounding changed.
std::vector<uint16_t> arhq_residual_f16(const model::QuantizedLinear& q, const std::vector<int64_t>& row_order,
                                        const std::string& name, int64_t* inexact = nullptr);

struct ArhqPackedResidual {
  std::vector<uint8_t> packed;  // ceil(H W / 2) bytes
  std::vector<uint16_t> scale;  // [H/16, W/16] F16 bits
  int32_t orig_shape[2] = {0, 0}, padded_shape[2] = {0, 0}, block_shape[2] = {16, 16};
};

// Why `q` has no exact packed form (empty if it has one; see the top of this file).
std::string arhq_packed_unsupported(const model::QuantizedLinear& q, bool rows_reordered);
// The packed form. Throws naming `name` when arhq_packed_unsupported() says why, or when a tile scale
// is not an f16 value or the packed form does not decode to hessq's W_q.
ArhqPackedResidual arhq_pack_residual(const model::QuantizedLinear& q, const std::string& name);

}  // namespace hessq::exporting
