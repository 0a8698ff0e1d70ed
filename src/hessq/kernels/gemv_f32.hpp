// y = W x for a row-major fp32 W [m, n]: the decode-time product of every linear layer. It reads
// each weight once, so its speed is memory bandwidth. Rows are cut into fixed 64-row blocks that
// OpenMP threads take dynamically (a preempted thread on a loaded machine does not hold the others
// back); each row is computed by one thread in one fixed order, so the bytes do not depend on the
// thread count.
#pragma once
#include <cstdint>

#include "hessq/kernels/cpu_isa.hpp"

namespace hessq::kernels {

void gemv_f32(const float* W, const float* x, float* y, int64_t m, int64_t n, Isa isa = best_isa());

// Several products that share x (q/k/v, gate/up) in one parallel loop: y_i = W_i x, W_i [m_i, n].
// Same bytes as gemv_f32 on each, with one fork/join instead of one per matrix.
struct GemvJob {
  const float* W;
  float* y;
  int64_t m;
};
constexpr int kMaxGemvJobs = 8;
void gemv_f32_many(const GemvJob* jobs, int count, const float* x, int64_t n, Isa isa = best_isa());

}  // namespace hessq::kernels
