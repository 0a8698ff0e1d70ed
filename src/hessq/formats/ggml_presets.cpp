#include "hessq/formats/ggml_presets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hessq/core/error.hpp"

namespace hessq::formats {

namespace {

struct Preset {
  const char* name;
  GgmlType base;   // the default type
  uint32_t ftype;  // llama.h's LLAMA_FTYPE_MOSTLY_<name>
};
constexpr Preset kPresets[] = {
    {"Q4_0", GgmlType::kQ4_0, 2},    {"Q4_1", GgmlType::kQ4_1, 3},    {"Q5_0", GgmlType::kQ5_0, 8},
    {"Q5_1", GgmlType::kQ5_1, 9},    {"Q8_0", GgmlType::kQ8_0, 7},    {"Q2_K", GgmlType::kQ2_K, 10},
    {"Q3_K_S", GgmlType::kQ3_K, 11}, {"Q3_K_M", GgmlType::kQ3_K, 12}, {"Q3_K_L", GgmlType::kQ3_K, 13},
    {"Q4_K_S", GgmlType::kQ4_K, 14}, {"Q4_K_M", GgmlType::kQ4_K, 15}, {"Q5_K_S", GgmlType::kQ5_K, 16},
    {"Q5_K_M", GgmlType::kQ5_K, 17}, {"Q6_K", GgmlType::kQ6_K, 18},
};

const Preset& find_preset(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return p;
  HESSQ_FAIL("unknown llama-quantize preset '{}' (known: {})", name, fmt::join(ggml_preset_names(), ", "));
}

int64_t block_elems(GgmlType type) { return static_cast<int64_t>(ggml_block_size(ggml_id(type))); }

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// tensor_type_fallback: a row that does not fill whole blocks of `type`.
GgmlType fallback(GgmlType type, int64_t ncols) {
  if (ncols % block_elems(type) == 0) return type;
  GgmlType t = GgmlType::kF16;
  switch (type) {
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K: t = GgmlType::kQ4_0; break;
    case GgmlType::kQ4_K: t = GgmlType::kQ5_0; break;
    case GgmlType::kQ5_K: t = GgmlType::kQ5_1; break;
    case GgmlType::kQ6_K: t = GgmlType::kQ8_0; break;
    default: break;  // legacy types have no fallback but F16
  }
  return ncols % block_elems(t) == 0 ? t : GgmlType::kF16;
}

}  // namespace

std::vector<std::string> ggml_preset_names() {
  std::vector<std::string> out;
  for (const Preset& p : kPresets) out.emplace_back(p.name);
  return out;
}

bool is_ggml_preset(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return true;
  return false;
}

GgmlType ggml_preset_base(const std::string& preset) { return find_preset(preset).base; }
uint32_t ggml_preset_ftype(const std::string& preset) { return find_preset(preset).ftype; }

std::optional<uint32_t> ggml_type_ftype(GgmlType type) {
  const std::string name = ggml_type_name(ggml_id(type));
  for (const Preset& p : kPresets)
    if (p.base == type && (name == p.name || name + "_M" == p.name)) return p.ftype;
  return std::nullopt;
}

GgmlType ggml_preset_type(const std::string& preset, GgmlRole role, int layer, int n_layers, int64_t ncols,
                          int n_gqa, bool tied) {
  const Preset& p = find_preset(preset);
  const std::string f = p.name;
  GgmlType t = p.base;
  switch (role) {
    case GgmlRole::TokenEmbd:
      if (!tied) break;
      [[fallthrough]];  // a tied embedding is the output
    case GgmlRole::Output:
      // Decided on the default type's block size (Q8_0 when the row does not fill it, else Q6_K); the
      // fallback below still applies (a 576-wide Q6_K row becomes Q8_0).
      t = ncols % block_elems(p.base) != 0 || p.base == GgmlType::kQ8_0 ? GgmlType::kQ8_0 : GgmlType::kQ6_K;
      break;
    case GgmlRole::AttnV:
      if (f == "Q2_K") t = n_gqa >= 4 ? GgmlType::kQ4_K : GgmlType::kQ3_K;
      else if (f == "Q3_K_M") t = layer < 2 ? GgmlType::kQ5_K : GgmlType::kQ4_K;
      else if (f == "Q3_K_L") t = GgmlType::kQ5_K;
      else if ((f == "Q4_K_M" || f == "Q5_K_M") && use_more_bits(layer, n_layers)) t = GgmlType::kQ6_K;
      else if (f == "Q4_K_S" && layer < 4) t = GgmlType::kQ5_K;
      break;
    case GgmlRole::FfnDown:
      if (f == "Q2_K") t = GgmlType::kQ3_K;
      else if (f == "Q3_K_M") t = layer < n_layers / 16 ? GgmlType::kQ5_K : GgmlType::kQ4_K;
      else if (f == "Q3_K_L") t = GgmlType::kQ5_K;
      else if ((f == "Q4_K_M" || f == "Q5_K_M") && use_more_bits(layer, n_layers)) t = GgmlType::kQ6_K;
      else if (f == "Q4_K_S" && layer < n_layers / 8) t = GgmlType::kQ5_K;
      else if ((f == "Q4_0" || f == "Q5_0") && layer < n_layers / 8) t = f == "Q4_0" ? GgmlType::kQ4_1 : GgmlType::kQ5_1;
      break;
    case GgmlRole::AttnOutput:
      if (f == "Q2_K") t = GgmlType::kQ3_K;
      else if (f == "Q3_K_M") t = GgmlType::kQ4_K;
      else if (f == "Q3_K_L") t = GgmlType::kQ5_K;
      break;
    default: break;
  }
  return fallback(t, ncols);
}

}  // namespace hessq::formats
