#include "hessq/formats/ggml_presets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hessq/core/error.hpp"

namespace hessq::formats {

namespace {

struct Preset {
  const char* name;
  GgmlType base;  // the default type
};
constexpr Preset kPresets[] = {
    {"Q4_0", GgmlType::kQ4_0},   {"Q4_1", GgmlType::kQ4_1},   {"Q5_0", GgmlType::kQ5_0},   {"Q5_1", GgmlType::kQ5_1},
    {"Q8_0", GgmlType::kQ8_0},   {"Q2_K", GgmlType::kQ2_K},   {"Q3_K_S", GgmlType::kQ3_K}, {"Q3_K_M", GgmlType::kQ3_K},
    {"Q3_K_L", GgmlType::kQ3_K}, {"Q4_K_S", GgmlType::kQ4_K}, {"Q4_K_M", GgmlType::kQ4_K}, {"Q5_K_S", GgmlType::kQ5_K},
    {"Q5_K_M", GgmlType::kQ5_K}, {"Q6_K", GgmlType::kQ6_K},
};

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

GgmlType ggml_preset_type(const std::string& preset, GgmlRole role, int layer, int n_layers, int64_t ncols,
                          int n_gqa, bool tied) {
  const Preset* p = nullptr;
  for (const Preset& q : kPresets)
    if (preset == q.name) p = &q;
  HESSQ_CHECK(p, "unknown llama-quantize preset '{}' (known: {})", preset, fmt::join(ggml_preset_names(), ", "));
  const std::string f = p->name;
  GgmlType t = p->base;
  if (role == GgmlRole::Output || (tied && role == GgmlRole::TokenEmbd)) {
    // The output rule is decided on the default type's block size; no fallback afterwards.
    if (ncols % block_elems(p->base) != 0) return GgmlType::kQ8_0;
    return p->base == GgmlType::kQ8_0 ? GgmlType::kQ8_0 : GgmlType::kQ6_K;
  }
  switch (role) {
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
