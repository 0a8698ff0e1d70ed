// The ggml tensor types (ggml.h enum ggml_type): one table of id, name, elements per block and bytes
// per block. The GGUF reader sizes tensors with it; ggml_blocks.hpp decodes the block-quantized types
// hessq implements (ggml_has_block_codec), ggml_quantize.hpp produces them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hessq::formats {

// ggml type ids hessq names in code; any other id of the table is still sized and named.
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kBF16 = 30,
};

struct GgmlTypeTraits {
  const char* name;    // "Q4_K", as ggml and llama.cpp print it
  uint32_t block;      // elements per block (1 for the plain types)
  uint32_t bytes;      // bytes per block
  bool block_codec;    // hessq dequantizes and quantizes it (ggml_blocks.hpp, ggml_quantize.hpp)
};

// Traits of ggml type `id`; nullptr when the id is unknown (or was removed from ggml).
const GgmlTypeTraits* ggml_type_traits(uint32_t id);
std::string ggml_type_name(uint32_t id);  // "F32", "Q4_K", ...; "type 77" if unknown
// The id named `name` (exactly as ggml_type_name prints it), or nullopt.
std::optional<uint32_t> ggml_type_from_name(std::string_view name);
uint64_t ggml_block_size(uint32_t id);  // elements per block (1 for F32), 0 if unknown
// Bytes taken by `n` elements of `id` (n a multiple of its block size); nullopt if unknown.
std::optional<uint64_t> ggml_nbytes(uint32_t id, uint64_t n);
// Whether `id` is one of the block-quantized types hessq implements bit-exactly: Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool ggml_has_block_codec(uint32_t id);

inline uint32_t ggml_id(GgmlType t) { return static_cast<uint32_t>(t); }

}  // namespace hessq::formats
