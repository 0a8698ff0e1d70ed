// ARHQ decomposition time at Qwen3-4B shapes (METHODS.md "ARHQ" steps 2-5), split into the metric's
// eigendecomposition, the rank-r SVD (exact gesdd or randomized) and the rest (forming M', A, B and
// W - L). Statistics (G) are built outside the timed region. Counters are seconds per iteration.
//   bench_arhq --benchmark_filter='Arhq/2560/9728'   (down_proj: m = 2560, n = 9728)
#include <benchmark/benchmark.h>

#include <cmath>

#include "hessq/core/random.hpp"
#include "hessq/methods/arhq.hpp"

namespace {

using hessq::methods::MatF;

// splitmix64 + Box-Muller: seeded Gaussian entries, portable.
MatF gaussian(int64_t rows, int64_t cols, uint64_t s, double sigma) {
  MatF M(rows, cols);
  for (Eigen::Index i = 0; i < M.size(); ++i) M.data()[i] = static_cast<float>(sigma * hessq::normal01(s));
  return M;
}

// A residual Hessian of realistic shape: G = E^T E / N from N = 2048 residual rows whose first 16
// channels are 20x larger (outlier channels make NVFP4 blocks coarse there).
hessq::linalg::Mat residual_hessian(int64_t n) {
  MatF E = gaussian(2048, n, 11, 0.05);
  E.leftCols(16) *= 20.0f;
  const hessq::linalg::Mat Ed = E.cast<double>();
  hessq::linalg::Mat G = hessq::linalg::Mat::Zero(n, n);
  G.selfadjointView<Eigen::Lower>().rankUpdate(Ed.transpose(), 1.0 / 2048);
  G.triangularView<Eigen::StrictlyUpper>() = G.transpose();
  return G;
}

void BM_Arhq(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1);
  const int r = static_cast<int>(state.range(2));
  const bool randomized = state.range(3) != 0;
  const MatF W = gaussian(m, n, 7, 1.0 / std::sqrt(static_cast<double>(n)));
  const hessq::linalg::Mat G = residual_hessian(n);
  hessq::methods::ArhqOptions opt;
  opt.rank = r;
  opt.svd = randomized ? hessq::methods::SvdKind::Randomized : hessq::methods::SvdKind::Exact;
  double eigh = 0, svd = 0, rest = 0;
  for (auto _ : state) {
    const auto res = hessq::methods::solve_arhq(W, G, opt);
    benchmark::DoNotOptimize(res.W_res.data());
    eigh += res.time.eigh_s;
    svd += res.time.svd_s;
    rest += res.time.rest_s;
  }
  state.counters["eigh_s"] = benchmark::Counter(eigh, benchmark::Counter::kAvgIterations);
  state.counters["svd_s"] = benchmark::Counter(svd, benchmark::Counter::kAvgIterations);
  state.counters["rest_s"] = benchmark::Counter(rest, benchmark::Counter::kAvgIterations);
  state.SetLabel(randomized ? "randomized svd" : "exact svd");
}

// {m, n, r, randomized}: down_proj (2560 x 9728) and gate/up_proj (9728 x 2560) of Qwen3-4B at rank 128.
BENCHMARK(BM_Arhq)
    ->Name("Arhq")
    ->Args({2560, 9728, 128, 0})
    ->Args({2560, 9728, 128, 1})
    ->Args({9728, 2560, 128, 0})
    ->Args({9728, 2560, 128, 1})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
