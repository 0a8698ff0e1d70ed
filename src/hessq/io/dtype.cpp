#include "hessq/io/dtype.hpp"

namespace hessq::io {

namespace {

struct DTypeTraits {
  DType type;
  const char* name;
  size_t size;
};

// One row per DType, in enum order.
constexpr DTypeTraits kTraits[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8},         {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},           {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1}, {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
};

constexpr bool traits_in_enum_order() {
  for (size_t i = 0; i < std::size(kTraits); ++i)
    if (static_cast<size_t>(kTraits[i].type) != i) return false;
  return true;
}
static_assert(traits_in_enum_order());
static_assert(std::size(kTraits) == static_cast<size_t>(DType::F8_E5M2) + 1);

const DTypeTraits& traits(DType t) { return kTraits[static_cast<size_t>(t)]; }

}  // namespace

const char* dtype_name(DType t) { return traits(t).name; }

size_t dtype_size(DType t) { return traits(t).size; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& row : kTraits)
    if (name == row.name) return row.type;
  return std::nullopt;
}

}  // namespace hessq::io
