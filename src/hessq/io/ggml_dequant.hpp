// ggml tensor data to fp32: the plain float types (F32, F16, BF16) and the block-quantized types of
// formats/ggml_blocks.hpp (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K), bit-exact with ggml's
// dequantize_row_*. Any other type is an error naming the file, the tensor and the type.
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
