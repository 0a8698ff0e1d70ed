#include "hessq/io/ggml_dequant.hpp"

#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/formats/ggml_blocks.hpp"
#include "hessq/io/gguf.hpp"

namespace hessq::io {

namespace {

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

bool ggml_dequantizable(uint32_t type) {
  return type == static_cast<uint32_t>(GgmlType::kF32) || type == static_cast<uint32_t>(GgmlType::kF16) ||
         type == static_cast<uint32_t>(GgmlType::kBF16) || formats::ggml_has_block_codec(type);
}

void require_ggml_dequantizable(uint32_t type, const std::string& file, const std::string& tensor) {
  HESSQ_CHECK(ggml_dequantizable(type), "{}: tensor '{}' has ggml type {}; hessq reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, "
              "Q3_K, Q4_K, Q5_K and Q6_K",
              file, tensor, ggml_type_name(type));
}

void ggml_to_f32(uint32_t type, const uint8_t* data, size_t nbytes, int64_t first, int64_t n, float* dst,
                 const std::string& file, const std::string& tensor) {
  require_ggml_dequantizable(type, file, tensor);
  const auto block = static_cast<int64_t>(ggml_block_size(type));
  HESSQ_CHECK(first >= 0 && n >= 0 && first % block == 0 && n % block == 0,
              "{}: tensor '{}' ({}): elements [{}, {}) do not start and end on a block boundary ({} elements)", file,
              tensor, ggml_type_name(type), first, first + n, block);
  const uint64_t begin = *ggml_nbytes(type, static_cast<uint64_t>(first));
  const uint64_t len = *ggml_nbytes(type, static_cast<uint64_t>(n));
  HESSQ_CHECK(begin <= nbytes && len <= nbytes - begin,
              "{}: tensor '{}' ({}): elements [{}, {}) need bytes [{}, {}), but the tensor's data has {} bytes", file,
              tensor, ggml_type_name(type), first, first + n, begin, begin + len, nbytes);
  const uint8_t* src = data + begin;
  switch (type) {
    case static_cast<uint32_t>(GgmlType::kF32):
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case static_cast<uint32_t>(GgmlType::kF16):
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load_u16(src + 2 * i));
      return;
    case static_cast<uint32_t>(GgmlType::kBF16):
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(src + 2 * i));
      return;
    default:
      formats::ggml_dequantize(formats::ggml_block_type(type), src, n, dst);
      return;
  }
}

}  // namespace hessq::io
