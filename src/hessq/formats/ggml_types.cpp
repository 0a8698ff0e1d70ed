#include "hessq/formats/ggml_types.hpp"

#include <fmt/format.h>

#include <iterator>

namespace hessq::formats {

namespace {

// Indexed by ggml type id (ggml.h enum ggml_type); removed ids have an empty row.
constexpr GgmlTypeTraits kTypes[] = {
    {"F32", 1, 4, false},         {"F16", 1, 2, false},        {"Q4_0", 32, 18, true},
    {"Q4_1", 32, 20, true},       {nullptr, 0, 0, false},      {nullptr, 0, 0, false},
    {"Q5_0", 32, 22, true},       {"Q5_1", 32, 24, true},      {"Q8_0", 32, 34, true},
    {"Q8_1", 32, 36, false},      {"Q2_K", 256, 84, true},     {"Q3_K", 256, 110, true},
    {"Q4_K", 256, 144, true},     {"Q5_K", 256, 176, true},    {"Q6_K", 256, 210, true},
    {"Q8_K", 256, 292, false},    {"IQ2_XXS", 256, 66, false}, {"IQ2_XS", 256, 74, false},
    {"IQ3_XXS", 256, 98, false},  {"IQ1_S", 256, 50, false},   {"IQ4_NL", 32, 18, false},
    {"IQ3_S", 256, 110, false},   {"IQ2_S", 256, 82, false},   {"IQ4_XS", 256, 136, false},
    {"I8", 1, 1, false},          {"I16", 1, 2, false},        {"I32", 1, 4, false},
    {"I64", 1, 8, false},         {"F64", 1, 8, false},        {"IQ1_M", 256, 56, false},
    {"BF16", 1, 2, false},        {nullptr, 0, 0, false},      {nullptr, 0, 0, false},
    {nullptr, 0, 0, false},       {"TQ1_0", 256, 54, false},   {"TQ2_0", 256, 66, false},
    {nullptr, 0, 0, false},       {nullptr, 0, 0, false},      {nullptr, 0, 0, false},
    {"MXFP4", 32, 17, false},
};

}  // namespace

const GgmlTypeTraits* ggml_type_traits(uint32_t id) {
  if (id >= std::size(kTypes) || kTypes[id].name == nullptr) return nullptr;
  return &kTypes[id];
}

std::string ggml_type_name(uint32_t id) {
  const GgmlTypeTraits* t = ggml_type_traits(id);
  return t ? t->name : fmt::format("type {}", id);
}

std::optional<uint32_t> ggml_type_from_name(std::string_view name) {
  for (uint32_t id = 0; id < std::size(kTypes); ++id)
    if (kTypes[id].name != nullptr && name == kTypes[id].name) return id;
  return std::nullopt;
}

uint64_t ggml_block_size(uint32_t id) {
  const GgmlTypeTraits* t = ggml_type_traits(id);
  return t ? t->block : 0;
}

std::optional<uint64_t> ggml_nbytes(uint32_t id, uint64_t n) {
  const GgmlTypeTraits* t = ggml_type_traits(id);
  if (!t) return std::nullopt;
  return n / t->block * t->bytes;
}

bool ggml_has_block_codec(uint32_t id) {
  const GgmlTypeTraits* t = ggml_type_traits(id);
  return t != nullptr && t->block_codec;
}

}  // namespace hessq::formats
