#include "hessq/formats/ggml_presets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hessq/core/error.hpp"

namespace hessq::formats {

namespace {

struct Preset {
  const char* name;
  uint32_t base;  // the default type
};
constexpr Preset kPresets[] = {
    {"Q4_0", kGgmlQ4_0},   {"Q4_1", kGgmlQ4_1},   {"Q5_0", kGgmlQ5_0},   {"Q5_1", kGgmlQ5_1},
    {"Q8_0", kGgmlQ8_0},   {"Q2_K", kGgmlQ2_K},   {"Q3_K_S", kGgmlQ3_K}, {"Q3_K_M", kGgmlQ3_K},
    {"Q3_K_L", kGgmlQ3_K}, {"Q4_K_S", kGgmlQ4_K}, {"Q4_K_M", kGgmlQ4_K}, {"Q5_K_S", kGgmlQ5_K},
    {"Q5_K_M", kGgmlQ5_K}, {"Q6_K", kGgmlQ6_K},
};

int64_t block_elems(uint32_t type) {
  switch (type) {
    case kGgmlF32:
    case kGgmlF16: return 1;
    case kGgmlQ2_K:
    case kGgmlQ3_K:
    case kGgmlQ4_K:
    case kGgmlQ5_K:
    case kGgmlQ6_K: return 256;
    default: return 32;
  }
}

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// tensor_type_fallback: a row that does not fill whole blocks of `type`.
uint32_t fallback(uint32_t type, int64_t ncols) {
  if (ncols % block_elems(type) == 0) return type;
  uint32_t t = kGgmlF16;
  switch (type) {
    case kGgmlQ2_K:
    case kGgmlQ3_K: t = kGgmlQ4_0; break;
    case kGgmlQ4_K: t = kGgmlQ5_0; break;
    case kGgmlQ5_K: t = kGgmlQ5_1; break;
    case kGgmlQ6_K: t = kGgmlQ8_0; break;
    default: break;  // legacy types have no fallback but F16
  }
  return ncols % block_elems(t) == 0 ? t : kGgmlF16;
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

uint32_t ggml_preset_type(const std::string& preset, GgmlRole role, int layer, int n_layers, int64_t ncols,
                          int n_gqa, bool tied) {
  const Preset* p = nullptr;
  for (const Preset& q : kPresets)
    if (preset == q.name) p = &q;
  HESSQ_CHECK(p, "unknown llama-quantize preset '{}' (known: {})", preset, fmt::join(ggml_preset_names(), ", "));
  const std::string f = p->name;
  uint32_t t = p->base;
  if (role == GgmlRole::Output || (tied && role == GgmlRole::TokenEmbd)) {
    // The output rule is decided on the default type's block size; no fallback afterwards.
    if (ncols % block_elems(p->base) != 0) return kGgmlQ8_0;
    return p->base == kGgmlQ8_0 ? kGgmlQ8_0 : kGgmlQ6_K;
  }
  switch (role) {
    case GgmlRole::AttnV:
      if (f == "Q2_K") t = n_gqa >= 4 ? kGgmlQ4_K : kGgmlQ3_K;
      else if (f == "Q3_K_M") t = layer < 2 ? kGgmlQ5_K : kGgmlQ4_K;
      else if (f == "Q3_K_L") t = kGgmlQ5_K;
      else if ((f == "Q4_K_M" || f == "Q5_K_M") && use_more_bits(layer, n_layers)) t = kGgmlQ6_K;
      else if (f == "Q4_K_S" && layer < 4) t = kGgmlQ5_K;
      break;
    case GgmlRole::FfnDown:
      if (f == "Q2_K") t = kGgmlQ3_K;
      else if (f == "Q3_K_M") t = layer < n_layers / 16 ? kGgmlQ5_K : kGgmlQ4_K;
      else if (f == "Q3_K_L") t = kGgmlQ5_K;
      else if ((f == "Q4_K_M" || f == "Q5_K_M") && use_more_bits(layer, n_layers)) t = kGgmlQ6_K;
      else if (f == "Q4_K_S" && layer < n_layers / 8) t = kGgmlQ5_K;
      else if ((f == "Q4_0" || f == "Q5_0") && layer < n_layers / 8) t = f == "Q4_0" ? kGgmlQ4_1 : kGgmlQ5_1;
      break;
    case GgmlRole::AttnOutput:
      if (f == "Q2_K") t = kGgmlQ3_K;
      else if (f == "Q3_K_M") t = kGgmlQ4_K;
      else if (f == "Q3_K_L") t = kGgmlQ5_K;
      break;
    default: break;
  }
  return fallback(t, ncols);
}

}  // namespace hessq::formats
