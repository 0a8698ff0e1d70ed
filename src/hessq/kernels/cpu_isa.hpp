// Run-time choice of the instruction set for hand-written kernels. Builds target x86-64-v3 (AVX2 +
// FMA) as the baseline; wider paths are compiled per function and chosen here. The environment
// variable HESSQ_ISA=scalar|avx2|avx512 caps the choice (tests and benchmarks use it to compare).
#pragma once

namespace hessq::kernels {

enum class Isa { Scalar, Avx2, Avx512 };

const char* isa_name(Isa isa);
bool isa_supported(Isa isa);
Isa best_isa();  // the widest supported ISA, capped by HESSQ_ISA; computed once

}  // namespace hessq::kernels
