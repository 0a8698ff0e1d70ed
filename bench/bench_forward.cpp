// fp32 forward speed on synthetic llama-2-7b-shaped layers (2 layers, seeded weights), next to the
// machine's memory bandwidth measured in the same process:
//   copy bandwidth       STREAM-style copy of a 1 GiB buffer, bytes read + written per second
//   read bandwidth       a streaming sum over the same buffer, bytes read per second
//   decode               one token per step through the KV cache; weight_read_Bps = bytes of weights
//                        read per token x tokens/s (decode is memory-bound: compare with the above)
//   prefill              512 tokens per call (GEMM-bound)
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include <cblas.h>

#include "hessq/kernels/gemv_f32.hpp"
#include "hessq/model/synth.hpp"
#include "hessq/model/transformer.hpp"

namespace {

using namespace hessq;

const model::Model& llama7b_2layers() {
  static std::unique_ptr<model::Model> m = [] {
    model::ModelConfig cfg = model::synth_config("llama-2-7b", 2);
    return std::make_unique<model::Model>(model::build_model(cfg, model::synth_tensors(cfg, 0), "synth llama-2-7b"));
  }();
  return *m;
}

// Bytes of weights one decode step reads: every linear of every layer plus the output head.
double weight_bytes_per_token(const model::Model& m) {
  double bytes = 0;
  for (const auto& L : m.layers)
    for (model::Proj p : model::kAllProjs) bytes += 4.0 * L.linear(p).in_features() * L.linear(p).out_features();
  return bytes + 4.0 * m.lm_head->in_features() * m.lm_head->out_features();
}

constexpr size_t kBufferBytes = size_t{1} << 30;

// Both memory benchmarks use every core (as the forward pass does), each thread on its own slice.
void BM_MemoryCopy(benchmark::State& state) {
  std::vector<char> a(kBufferBytes, 1), b(kBufferBytes, 0);
  constexpr size_t kSlices = 64, kSlice = kBufferBytes / kSlices;
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < kSlices; ++i) std::memcpy(b.data() + i * kSlice, a.data() + i * kSlice, kSlice);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
  }
  state.counters["copy_Bps"] = benchmark::Counter(2.0 * kBufferBytes, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryCopy)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

void BM_MemoryRead(benchmark::State& state) {
  std::vector<uint64_t> a(kBufferBytes / sizeof(uint64_t), 1);
  for (auto _ : state) {
    uint64_t s = 0;  // integer sum: reassociable, so it vectorises and stays memory-bound
#pragma omp parallel for simd reduction(+ : s)
    for (size_t i = 0; i < a.size(); ++i) s += a[i];
    benchmark::DoNotOptimize(s);
  }
  state.counters["read_Bps"] = benchmark::Counter(kBufferBytes, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryRead)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// The decode kernel alone on a down_proj-sized matrix (4096 x 11008), per ISA, next to OpenBLAS's
// sgemv (arg -1) in the same process.
void BM_Gemv(benchmark::State& state) {
  const int64_t m = 4096, n = 11008;
  std::vector<float> W(m * n, 0.01f), x(n, 1.0f), y(m);
  const int isa = static_cast<int>(state.range(0));
  if (isa >= 0 && !kernels::isa_supported(static_cast<kernels::Isa>(isa))) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  for (auto _ : state) {
    if (isa < 0) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0f, W.data(), n, x.data(), 1, 0.0f, y.data(), 1);
    } else {
      kernels::gemv_f32(W.data(), x.data(), y.data(), m, n, static_cast<kernels::Isa>(isa));
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(isa < 0 ? "openblas" : kernels::isa_name(static_cast<kernels::Isa>(isa)));
  state.counters["weight_read_Bps"] = benchmark::Counter(4.0 * m * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Gemv)->Arg(-1)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

void BM_Decode(benchmark::State& state) {
  const model::Model& m = llama7b_2layers();
  model::Transformer tr(m, 1024);
  std::vector<int> prompt(16);
  std::iota(prompt.begin(), prompt.end(), 1);
  tr.forward(prompt.data(), static_cast<int>(prompt.size()), false);
  int tok = 100;
  for (auto _ : state) {
    if (tr.pos() >= tr.max_ctx()) tr.reset();
    const float* logits = tr.forward(&tok, 1, false);
    benchmark::DoNotOptimize(logits);
  }
  state.counters["tokens_per_s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_read_Bps"] =
      benchmark::Counter(weight_bytes_per_token(m), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);

void BM_Prefill(benchmark::State& state) {
  const model::Model& m = llama7b_2layers();
  const int n = static_cast<int>(state.range(0));
  model::Transformer tr(m, n);
  std::vector<int> toks(n);
  for (int i = 0; i < n; ++i) toks[i] = (i * 7919) % m.cfg.vocab_size;
  for (auto _ : state) {
    tr.reset();
    benchmark::DoNotOptimize(tr.forward(toks.data(), n, false));
  }
  state.counters["tokens_per_s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Prefill)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);

}  // namespace

BENCHMARK_MAIN();
