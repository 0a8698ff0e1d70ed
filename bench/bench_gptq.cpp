// Weight-only solver cost on a synthetic 4096 x 4096 layer (llama-2-7b q_proj shape), each reported
// as a ratio to quantities measured in the same process, so the numbers transfer across machines:
//   BM_Sgemm4096        one 4096^3 fp32 GEMM (cblas_sgemm): the unit of the ratios below
//   BM_Gptq/<act_order> GPTQ int4 g128 (block 128, static groups); x_gemm = time / GEMM time
//   BM_OsaqThenGptq     OSAQ (defaults) then GPTQ on W + dW; x_gptq = (osaq + gptq) / gptq alone,
//                       osaq_x_gemm = OSAQ time / GEMM time, K = OSAQ's null-space dimension
// Inputs (seeded, built once; synthetic_layer.hpp): W ~ N(0, 1/n) with 1% of entries 8x; X [8192
// tokens, 4096] = Z D + z u^T, D lognormal per-channel magnitudes with 32 near-dead channels (1e-3),
// plus a shared rank-8 factor, so H = X^T X / N is full rank, correlated, and has a small near-null
// space (8192 tokens > n: 2048 would leave half of H exactly singular, unlike a real calibration set).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

#include "hessq/formats/quant_spec.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/osaq.hpp"
#include "synthetic_layer.hpp"

namespace {

using namespace hessq;
using methods::MatF;

constexpr int64_t kN = bench::SyntheticLayer::kN, kTokens = 8192;

struct Layer {
  MatF W;         // [4096, 4096]
  linalg::Mat H;  // [4096, 4096]
};

const Layer& layer() {
  static std::unique_ptr<Layer> L = [] {
    auto l = std::make_unique<Layer>();
    bench::SyntheticLayer src;
    l->W = src.W;
    const MatF X = src.tokens(kTokens);
    MatF Hf(kN, kN);  // X^T X / N in float (ssyrk), upper triangle mirrored
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, kN, kTokens, 1.0f / kTokens, X.data(), kN, 0.0f, Hf.data(), kN);
    l->H = Hf.cast<double>();
    l->H.triangularView<Eigen::StrictlyLower>() = l->H.transpose();
    return l;
  }();
  return *L;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Best of 3 (after a warm-up) 4096^3 GEMMs, measured once per process.
double gemm_seconds() {
  static const double s = [] {
    MatF A = MatF::Random(kN, kN), B = MatF::Random(kN, kN), C(kN, kN);
    double best = 1e30;
    for (int i = 0; i < 4; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kN, kN, kN, 1.0f, A.data(), kN, B.data(), kN, 0.0f,
                  C.data(), kN);
      if (i > 0) best = std::min(best, seconds_since(t0));
    }
    return best;
  }();
  return s;
}

void BM_Sgemm4096(benchmark::State& state) {
  MatF A = MatF::Random(kN, kN), B = MatF::Random(kN, kN), C(kN, kN);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kN, kN, kN, 1.0f, A.data(), kN, B.data(), kN, 0.0f,
                C.data(), kN);
    benchmark::DoNotOptimize(C.data());
  }
  state.counters["flops"] = benchmark::Counter(2.0 * kN * kN * kN, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["best_s"] = gemm_seconds();
}
BENCHMARK(BM_Sgemm4096)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

void BM_Gptq(benchmark::State& state) {
  const Layer& L = layer();
  const auto spec = formats::parse_spec("int4-g128");
  methods::GptqOptions opt;
  opt.act_order = state.range(0) != 0;
  const double gemm = gemm_seconds();
  double total = 0, loss = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto q = methods::solve_gptq(L.W, L.H, spec, opt);
    total += seconds_since(t0);
    loss = q.proxy_loss;
  }
  state.counters["x_gemm"] = total / state.iterations() / gemm;
  state.counters["proxy_loss"] = loss;
}
BENCHMARK(BM_Gptq)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(2);

void BM_OsaqThenGptq(benchmark::State& state) {
  const Layer& L = layer();
  const auto spec = formats::parse_spec("int4-g128");
  const double gemm = gemm_seconds();
  double t_osaq = 0, t_gptq = 0;
  int K = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    const auto o = methods::solve_osaq(L.W, L.H, {});
    const MatF W2 = L.W + o.dW;
    t_osaq += seconds_since(t0);
    K = o.K;
    t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(methods::solve_gptq(W2, L.H, spec, {}).proxy_loss);
    t_gptq += seconds_since(t0);
  }
  state.counters["x_gptq"] = (t_osaq + t_gptq) / t_gptq;
  state.counters["osaq_x_gemm"] = t_osaq / state.iterations() / gemm;
  state.counters["K"] = K;
}
BENCHMARK(BM_OsaqThenGptq)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
