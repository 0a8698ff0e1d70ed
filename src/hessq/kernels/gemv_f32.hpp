// y = W x for a row-major fp32 W [m, n]: the decode-time product of every linear layer. It reads
// each weight once, so its speed is memory bandwidth; rows are split across OpenMP threads.
#pragma once
#include <cstdint>

#include "hessq/kernels/cpu_isa.hpp"

namespace hessq::kernels {

void gemv_f32(const float* W, const float* x, float* y, int64_t m, int64_t n, Isa isa = best_isa());

}  // namespace hessq::kernels
