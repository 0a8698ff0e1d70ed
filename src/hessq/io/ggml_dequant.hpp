// ggml tensor data to fp32: the plain float types (F32, F16, BF16) and the block-quantized types
// hessq reads (Q4_1, Q8_0), laid out as ggml stores them (ggml-common.h, dequantize_row_*):
//   Q4_1: blocks of 32 elements = f16 d, f16 m, 16 bytes of nibbles; element j < 16 is the low
//         nibble of byte j, element j + 16 its high nibble; value = d * q + m.
//   Q8_0: blocks of 32 elements = f16 d, 32 x int8 q; value = d * q.
// Any other type is an error naming the file, the tensor and the type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace hessq::io {

// Whether ggml_to_f32 converts `type` (a ggml type id).
bool ggml_dequantizable(uint32_t type);
// Throws naming `file`, `tensor` and the type when ggml_to_f32 does not convert `type`.
void require_ggml_dequantizable(uint32_t type, const std::string& file, const std::string& tensor);

// Elements [first, first + n) of a tensor of ggml `type` whose data (`nbytes` bytes, possibly
// unaligned) starts at `data`, as fp32 into `dst`. `first` and `n` must be multiples of the type's
// block size, and the blocks they cover must lie within `nbytes`. `file` and `tensor` name the
// tensor in errors.
void ggml_to_f32(uint32_t type, const uint8_t* data, size_t nbytes, int64_t first, int64_t n, float* dst,
                 const std::string& file, const std::string& tensor);

}  // namespace hessq::io
