// DType: the element type of a tensor stored in a checkpoint, named as safetensors names it.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

namespace hessq::io {

enum class DType {
  F64,
  F32,
  F16,
  BF16,
  I64,
  I32,
  I16,
  I8,
  U8,
  BOOL,
  F8_E4M3,  // fp8, 4 exponent bits, 3 mantissa bits
  F8_E5M2,  // fp8, 5 exponent bits, 2 mantissa bits
};

const char* dtype_name(DType t);                          // "F32", "BF16", "F8_E4M3", ...
size_t dtype_size(DType t);                               // bytes per element
std::optional<DType> parse_dtype(std::string_view name);  // exact safetensors name, else nullopt

}  // namespace hessq::io
