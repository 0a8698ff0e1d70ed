#include "hessq/kernels/cpu_isa.hpp"

#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

namespace hessq::kernels {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Avx512: return __builtin_cpu_supports("avx512f");
  }
  return false;
}

static Isa detect() {
  Isa cap = Isa::Avx512;
  if (const char* env = std::getenv("HESSQ_ISA")) {
    if (!std::strcmp(env, "scalar")) cap = Isa::Scalar;
    else if (!std::strcmp(env, "avx2")) cap = Isa::Avx2;
    else if (std::strcmp(env, "avx512")) spdlog::warn("HESSQ_ISA={} is not scalar, avx2 or avx512; ignored", env);
  }
  for (Isa isa : {Isa::Avx512, Isa::Avx2})
    if (static_cast<int>(isa) <= static_cast<int>(cap) && isa_supported(isa)) return isa;
  return Isa::Scalar;
}

Isa best_isa() {
  static const Isa isa = detect();
  return isa;
}

}  // namespace hessq::kernels
