// The packed INT GEMV alone (kernels/int_gemv.hpp), per format and ISA path, against the machine's
// read bandwidth measured in the same process:
//   bench_int_gemv [--benchmark_filter=...]
// BM_IntGemv/BITS/GROUP/ASYM/ISA/IN_CACHE (GROUP 0: per channel; ISA 0 scalar, 1 AVX2, 2 AVX-512
// VNNI) runs y = W x on a 4096-column matrix of 256 MiB of packed codes (IN_CACHE 0: larger than any
// cache, as decode reads a model's weights, from memory once per token), or of 256 KiB (IN_CACHE 1:
// in L2, the kernel's own throughput). Counter GB/s: packed bytes read per second; BM_MemoryRead (first, same
// process and threads) is the machine's streaming read bandwidth to divide it by. Threads: OMP_NUM_THREADS.
// Synthetic codes (a fixed LCG): speed only.
#include <cstdint>
#include <cstdio>
#include <vector>

#include <benchmark/benchmark.h>

#include "hessq/kernels/int_gemv.hpp"
#include "memory_read.hpp"

namespace {

using namespace hessq;

void BM_MemoryRead(benchmark::State& state) {
  const std::vector<uint64_t> a((size_t{256} << 20) / sizeof(uint64_t), 1);
  for (auto _ : state) benchmark::DoNotOptimize(bench::read_all(a));
  const double bytes = static_cast<double>(a.size() * sizeof(uint64_t));
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_MemoryRead)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(20);

void BM_IntGemv(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  const int64_t group = state.range(1);
  const bool asym = state.range(2) != 0;
  const auto isa = static_cast<kernels::Isa>(state.range(3));
  const bool in_cache = state.range(4) != 0;
  if (!kernels::int_gemv_isa_supported(isa)) {
    state.SkipWithError("this CPU lacks the path");
    return;
  }
  const int64_t cols = 4096;
  const auto shape = kernels::IntBlockLayout::make(bits, asym, 1, cols, group, "bench");
  const int64_t target = in_cache ? (int64_t{256} << 10) : (int64_t{256} << 20);
  const int64_t rows = (target / shape.row_bytes() + 63) / 64 * 64;
  const auto L = kernels::IntBlockLayout::make(bits, asym, rows, cols, group, "bench");
  std::vector<uint8_t> data(static_cast<size_t>(L.total_bytes()));
  uint32_t s = 12345;
  for (auto& b : data) b = static_cast<uint8_t>((s = s * 1664525u + 1013904223u) >> 24);
  // Headers: small finite F16 scales (0x2000 ~ 0.0078) so the float sums stay finite.
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < L.groups_per_row(); ++g) {
      uint8_t* p = data.data() + r * L.row_bytes() + g * L.group_bytes();
      p[0] = 0x00;
      p[1] = 0x20;
    }
  std::vector<float> x(static_cast<size_t>(cols));
  for (auto& v : x) v = static_cast<float>(static_cast<int32_t>(s = s * 1664525u + 1013904223u)) * 1e-9f;
  kernels::ActQ8 xq;
  kernels::quantize_act_q8(x.data(), cols, L.padded_cols(), xq);
  std::vector<float> y(static_cast<size_t>(rows));
  for (auto _ : state) {
    kernels::int_gemv(L, data.data(), xq, y.data(), isa);
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(L.total_bytes());
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.SetLabel(L.describe() + (in_cache ? " in cache" : " from memory"));
}

// bits, group, asym, isa, in_cache
void IntGemvArgs(benchmark::internal::Benchmark* b) {
  const int64_t formats[][3] = {{8, 0, 0}, {4, 32, 0}, {4, 32, 1}, {4, 128, 0}, {3, 128, 0}, {2, 64, 1}};
  for (int isa = 0; isa <= 2; ++isa)
    for (const auto& f : formats)
      for (int cache = 0; cache <= 1; ++cache) {
        if (isa == 0 && cache == 0) continue;  // the scalar reference is compute-bound: in cache only
        b->Args({f[0], f[1], f[2], isa, cache});
      }
}
BENCHMARK(BM_IntGemv)->Apply(IntGemvArgs)->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
