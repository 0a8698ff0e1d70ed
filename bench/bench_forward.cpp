// fp32 forward speed on two synthetic shapes (seeded weights built in memory), next to the
// machine's memory bandwidth measured in the same process:
//   stories110m    llama2.c's 110M shape (dim 768, 12 layers, vocab 32000): the llama.cpp comparison
//   llama-2-7b-l2  llama-2-7b's shapes, 2 layers (dim 4096, hidden 11008, vocab 32000)
// Benchmarks:
//   copy / read bandwidth  STREAM-style copy, and a streaming sum, over a buffer of N MiB (1024: far
//                          beyond the caches; 440: the 110M model's weights, which a large L3 may hold)
//   decode                 one token per step at positions 0..127, then the cache is reset (as
//                          llama-bench's tg128); bytes_per_token = weights read (block linears and
//                          head) + the mean KV cache read; read_Bps = bytes_per_token x tokens/s.
//                          <part>_ms: wall time per token in each part of the forward pass
//                          (model/forward_profile.hpp)
//   prefill                512 tokens per call from an empty cache (llama-bench's pp512), same parts
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <cblas.h>

#include "hessq/kernels/gemv_f32.hpp"
#include "hessq/model/synth.hpp"
#include "hessq/model/transformer.hpp"

namespace {

using namespace hessq;

// The benchmark's models by index: {synth shape, layers (0: all)}.
struct Shape {
  const char* like;
  int layers;
  const char* label;
};
constexpr Shape kShapes[] = {{"stories110m", 0, "stories110m"}, {"llama-2-7b", 2, "llama-2-7b-l2"}};

const model::Model& synth_model(int i) {
  static std::map<int, std::unique_ptr<model::Model>> models;
  auto& m = models[i];
  if (!m) {
    const model::ModelConfig cfg = model::synth_config(kShapes[i].like, kShapes[i].layers);
    m = std::make_unique<model::Model>(model::build_model(cfg, model::synth_tensors(cfg, 0), kShapes[i].label));
  }
  return *m;
}

// Bytes of weights one decode step reads: every linear of every layer plus the output head.
double weight_bytes_per_token(const model::Model& m) {
  double bytes = 0;
  for (const auto& L : m.layers)
    for (model::Proj p : model::kAllProjs) bytes += 4.0 * L.linear(p).in_features() * L.linear(p).out_features();
  return bytes + 4.0 * m.lm_head->in_features() * m.lm_head->out_features();
}

// Per-token wall time of each forward part, as counters (<part>_ms).
void profile_counters(benchmark::State& state, const model::ForwardProfile& p, double tokens) {
  for (int k = 0; k < model::ForwardProfile::kParts; ++k)
    state.counters[std::string(model::ForwardProfile::kNames[k]) + "_ms"] = 1e3 * p.seconds[k] / tokens;
}

// Both memory benchmarks use every core (as the forward pass does), each thread on its own slice.
void BM_MemoryCopy(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  std::vector<char> a(bytes, 1), b(bytes, 0);
  constexpr size_t kSlices = 64;
  const size_t slice = bytes / kSlices;
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < kSlices; ++i) std::memcpy(b.data() + i * slice, a.data() + i * slice, slice);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
  }
  state.counters["copy_Bps"] = benchmark::Counter(2.0 * bytes, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryCopy)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

void BM_MemoryRead(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  std::vector<uint64_t> a(bytes / sizeof(uint64_t), 1);
  for (auto _ : state) {
    uint64_t s = 0;  // integer sum: reassociable, so it vectorises and stays memory-bound
#pragma omp parallel for simd reduction(+ : s)
    for (size_t i = 0; i < a.size(); ++i) s += a[i];
    benchmark::DoNotOptimize(s);
  }
  state.counters["read_Bps"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryRead)->Arg(1024)->Arg(440)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

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
  const model::Model& m = synth_model(static_cast<int>(state.range(0)));
  constexpr int kTokens = 128;
  model::Transformer tr(m, kTokens);
  model::ForwardProfile profile;
  tr.set_profile(&profile);
  int tok = 100;
  for (auto _ : state) {
    if (tr.pos() >= kTokens) tr.reset();
    const float* logits = tr.forward(&tok, 1, false);
    benchmark::DoNotOptimize(logits);
  }
  // Keys and values read by attention, averaged over positions 0..kTokens-1 (pos + 1 each).
  const model::ModelConfig& c = m.cfg;
  const double kv_bytes = 2.0 * 4.0 * c.n_layers * c.kv_dim() * (kTokens + 1) / 2.0;
  const double bytes = weight_bytes_per_token(m) + kv_bytes;
  state.SetLabel(kShapes[state.range(0)].label);
  state.counters["tokens_per_s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes_per_token"] = bytes;
  state.counters["read_Bps"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  profile_counters(state, profile, static_cast<double>(state.iterations()));
}
BENCHMARK(BM_Decode)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);

void BM_Prefill(benchmark::State& state) {
  const model::Model& m = synth_model(static_cast<int>(state.range(0)));
  const int n = static_cast<int>(state.range(1));
  model::Transformer tr(m, n);
  model::ForwardProfile profile;
  tr.set_profile(&profile);
  std::vector<int> toks(n);
  for (int i = 0; i < n; ++i) toks[i] = (i * 7919) % m.cfg.vocab_size;
  for (auto _ : state) {
    tr.reset();
    benchmark::DoNotOptimize(tr.forward(toks.data(), n, false));
  }
  state.SetLabel(kShapes[state.range(0)].label);
  state.counters["tokens_per_s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
  profile_counters(state, profile, static_cast<double>(state.iterations()) * n);
}
BENCHMARK(BM_Prefill)->Args({0, 512})->Args({1, 512})->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5.0);

}  // namespace

BENCHMARK_MAIN();
