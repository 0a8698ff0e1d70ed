// ggml's block types as a hessq format (QuantSpec Format::Ggml, names "q4_0", "q4_k", ...): the bytes
// are ggml's own blocks (formats/ggml_blocks.hpp), so a layer quantized to one of them is exported to
// GGUF unchanged and llama.cpp runs exactly what hessq evaluated.
//   fake_quant: ggml's reference quantizer (quantize_row_<type>_ref, i.e. llama-quantize without an
//               importance matrix) then ggml's dequantization, row by row;
//   pack:       Packed::codes holds the rows' blocks back to back (row r at r * cols / block * bytes),
//               no scales or zeros (they are inside the blocks), scale_dtype "ggml";
//   unpack:     ggml's dequantization.
// Rows must fill whole blocks (32 or 256 values); the pipeline does not pad them (a GGUF row cannot
// hold padding), so a layer whose input dim does not fit is refused, naming it.
#pragma once
#include <cstdint>

#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {

int64_t ggml_num_scales(const QuantSpec& spec, int64_t rows, int64_t cols);  // 0: scales live in the blocks
void ggml_fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out);
Packed ggml_pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols);
void ggml_unpack(const QuantSpec& spec, const Packed& p, int64_t rows, int64_t cols, float* out);
// Bytes of one row of `cols` values (cols a multiple of the block size, else throws naming the spec).
int64_t ggml_row_bytes(const QuantSpec& spec, int64_t cols);

}  // namespace hessq::formats
