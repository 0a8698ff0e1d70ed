#include "hessq/io/ggml_dequant.hpp"

#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/io/gguf.hpp"

namespace hessq::io {

namespace {

constexpr uint32_t kQ4_1 = 3;
constexpr uint32_t kQ8_0 = 8;
constexpr int64_t kQBlock = 32;  // elements per Q4_1 / Q8_0 block

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

void q4_1_block(const uint8_t* b, float* y) {
  const float d = f16_to_f32(load_u16(b));
  const float m = f16_to_f32(load_u16(b + 2));
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0f) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

void q8_0_block(const uint8_t* b, float* y) {
  const float d = f16_to_f32(load_u16(b));
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

template <class Block>
void blocks(const uint8_t* src, int64_t n_blocks, size_t block_bytes, float* dst, Block f) {
#pragma omp parallel for if (n_blocks > 4096)
  for (int64_t i = 0; i < n_blocks; ++i) f(src + static_cast<size_t>(i) * block_bytes, dst + i * kQBlock);
}

}  // namespace

bool ggml_dequantizable(uint32_t type) {
  return type == static_cast<uint32_t>(GgmlType::kF32) || type == static_cast<uint32_t>(GgmlType::kF16) ||
         type == static_cast<uint32_t>(GgmlType::kBF16) || type == kQ4_1 || type == kQ8_0;
}

void require_ggml_dequantizable(uint32_t type, const std::string& file, const std::string& tensor) {
  HESSQ_CHECK(ggml_dequantizable(type), "{}: tensor '{}' has ggml type {}; hessq reads F32, F16, BF16, Q4_1 and Q8_0",
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
    case kQ4_1: blocks(src, n / kQBlock, 20, dst, q4_1_block); return;
    case kQ8_0: blocks(src, n / kQBlock, 34, dst, q8_0_block); return;
    default: break;
  }
  HESSQ_FAIL("{}: tensor '{}': ggml type {} is not handled", file, tensor, ggml_type_name(type));
}

}  // namespace hessq::io
