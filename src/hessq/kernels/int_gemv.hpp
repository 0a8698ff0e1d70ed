// y = W x for INT-b weights in the block layout (int_blocks.hpp), with the activation vector
// quantized to int8 per block of 32 (llama.cpp's Q8_0 activations): the decode-time product of a
// packed quantized linear. Integer dot products of codes and activation codes, scaled per block:
//
//   x_i ~ d_j q_i (block j: d_j = max|x| / 127, q_i = round(x_i / d_j) in [-127, 127])
//   y_r = sum_groups s_rg * ( sum_{j in g} d_j * sum_{i in j} u_ri q_i  -  z_rg * sum_{j in g} d_j sum_{i in j} q_i )
//
// (w = (u - z) s, int_blocks.hpp). The integer sums are exact; the only error against W x with W
// decoded is the activation rounding (|x_i - d_j q_i| <= d_j / 2).
// Paths: scalar reference; AVX2 (vpmaddubsw; 8-bit codes re-centred to int8 to avoid its i16
// saturation); AVX-512 VNNI (vpdpbusd on 256-bit vectors); 4-bit codes two blocks per instruction
// (int_gemv.cpp). Rows split across OpenMP threads in blocks of 64, each computed the same way by
// whichever thread takes it: identical bytes at any thread count for a given path.
#pragma once
#include <cstdint>
#include <vector>

#include "hessq/kernels/cpu_isa.hpp"
#include "hessq/kernels/int_blocks.hpp"

namespace hessq::kernels {

// An activation vector quantized per block of 32: n values zero-padded to `padded` (a multiple of 32).
struct ActQ8 {
  std::vector<int8_t> q;     // [padded]
  std::vector<float> d;      // [padded / 32] block scales
  std::vector<int32_t> sum;  // [padded / 32] sum of q in the block
};
// Deterministic and ISA-independent: every step is exact or one correctly rounded IEEE operation
// (max |x|, d = max / 127, x / d, round half to even, clamp), so the AVX2 path (whole blocks) and the
// scalar one give the same bytes; `isa` exists for the test that checks it.
void quantize_act_q8(const float* x, int64_t n, int64_t padded, ActQ8& out, Isa isa = best_isa());

// y[r] = sum_c W[r, c] x[c] with x given as quantize_act_q8(x, L.cols, L.padded_cols()).
// isa Avx512 needs AVX-512 VNNI + VL (int_gemv_isa_supported); else it throws.
void int_gemv(const IntBlockLayout& L, const uint8_t* data, const ActQ8& x, float* y, Isa isa = best_isa());
// Several products of the same activation (q/k/v, gate/up at decode) in one parallel loop: one
// fork/join for all. Each layout must have x's padded length; each y the same bytes as int_gemv's.
struct IntGemvJob {
  const IntBlockLayout* L;
  const uint8_t* data;
  float* y;
};
constexpr int kMaxIntGemvJobs = 8;
void int_gemv_many(const IntGemvJob* jobs, int count, const ActQ8& x, Isa isa = best_isa());
bool int_gemv_isa_supported(Isa isa);
// The widest supported path for int_gemv: best_isa(), lowered to AVX2 without VNNI.
Isa int_gemv_best_isa();

}  // namespace hessq::kernels
