// The tensors of one linear in the GPTQ checkpoint format (checkpoint_format "gptq", the format
// AutoGPTQ wrote first and transformers / optimum, GPTQModel and vLLM read), as AutoGPTQ's
// QuantLinear.pack writes them (AutoGPTQ/AutoGPTQ, auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py,
// `pack`; the loaders allocate the same shapes):
//
//   qweight  I32 [n * b / 32, m]       codes u packed along the input dimension
//   qzeros   I32 [G, m * b / 32]       (z - 1) mod 2^b packed along the output dimension
//   scales   F16 [G, m]
//   g_idx    I32 [n]                   g_idx[i] = i / group (desc_act false: groups in input order)
//   w[j, i] = (u[i, j] - (qzeros_field[g_idx[i], j] + 1)) * scales[g_idx[i], j]
// G = ceil(n / group) (1 per channel; the config's group_size is then -1).
//
// Packing (both tensors): along the packed dimension, every run of 32 codes fills b consecutive 32-bit
// words as one little-endian 32b-bit number, code k of the run at bit b * k. For b = 2, 4, 8 that is
// 32 / b codes per word, lowest bits first; for b = 3 a code may straddle two words (AutoGPTQ's pack:
// codes 10 and 21 of each run of 32 are split across words), which the same rule describes exactly.
// The loaders allocate [n / 32 * b, m] and [G, m / 32 * b], so n and m must be multiples of 32.
//
// The stored zero is z - 1 ("gptq", v1; GPTQModel's "gptq_v2" stores z): AutoGPTQ's pack does
// `zeros -= 1` and its kernels add 1 back. A zero point of 0 (asymmetric groups whose values are all
// >= 0) would be stored as -1, which AutoGPTQ's own pack spreads over the neighbouring fields and
// GPTQModel's v1 -> v2 conversion (gptqmodel/utils/model.py, convert_gptq_v1_to_v2_format_module, a
// word-wide += 0x11111111) carries into the next field: such a layer is refused. Symmetric layers have
// z = 2^(b-1) everywhere.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hessq/core/tensor.hpp"
#include "hessq/export/int_codes.hpp"

namespace hessq::exporting {

struct GptqTensors {
  std::vector<int32_t> qweight;  // [n * b / 32, m]
  std::vector<int32_t> qzeros;   // [G, m * b / 32]
  std::vector<uint16_t> scales;  // [G, m], F16 bits
  std::vector<int32_t> g_idx;    // [n]
  Shape qweight_shape, qzeros_shape, scales_shape, g_idx_shape;
};

// Packs codes (each < 2^bits), code k at bit bits * k of the little-endian words; codes.size() * bits
// must be a multiple of 32.
std::vector<uint32_t> gptq_pack_bits(std::span<const uint32_t> codes, int bits);

// Throws naming `name` unless b is 2, 3, 4 or 8 and the [rows, cols] weight has both sizes
// multiples of 32.
void check_gptq_shape(int bits, int64_t rows, int64_t cols, const std::string& name);

// Output channel j of the result is row row_order[j] of c (an empty order: the identity), for the
// q/k RoPE layout conversion (model/rope_layout.hpp). Throws naming `name` (and the row and group)
// for what check_gptq_shape refuses and for a zero point of 0.
GptqTensors gptq_tensors(const IntCodes& c, std::span<const int64_t> row_order, const std::string& name);

}  // namespace hessq::exporting
