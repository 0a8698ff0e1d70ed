// ActQuantLinear: y = Q_x(x / s) Q_w(W_res)^T + b + (x / s A) B^T against an independent double
// computation; the branch reads the unquantized input (a layer that fed it Q_x(x) fails); the
// activation quantizer is per token; bad activation formats and factor shapes are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "hessq/core/random.hpp"
#include "hessq/core/error.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/model/act_quant_linear.hpp"

namespace hessq::model {

namespace {

std::vector<float> seeded(int64_t n, uint64_t seed, double scale = 1.0) {  // splitmix64 -> uniform [-scale, scale)
  std::vector<float> v(n);
  for (auto& x : v) {
    x = static_cast<float>(scale * (static_cast<double>(splitmix64(seed)) / 9.223372036854775808e18 - 1.0));
  }
  return v;
}

// Y [T, m] = X [T, n] W^T in double, W row-major [m, n].
std::vector<double> matmul_nt(const std::vector<float>& X, const std::vector<float>& W, int64_t T, int64_t n,
                              int64_t m) {
  std::vector<double> Y(T * m, 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) Y[t * m + i] += static_cast<double>(X[t * n + j]) * W[i * n + j];
  return Y;
}

// (X A) B^T in double; A [n, r], B [m, r].
std::vector<double> branch(const std::vector<float>& X, const std::vector<float>& A, const std::vector<float>& B,
                           int64_t T, int64_t n, int64_t m, int64_t r) {
  std::vector<double> XA(T * r, 0.0), Y(T * m, 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t k = 0; k < r; ++k)
      for (int64_t j = 0; j < n; ++j) XA[t * r + k] += static_cast<double>(X[t * n + j]) * A[j * r + k];
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t k = 0; k < r; ++k) Y[t * m + i] += XA[t * r + k] * B[i * r + k];
  return Y;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

// The fp32 GEMMs (n = 64, r = 3 terms of order 1) against a double reference: round-off is ~1e-6;
// 1e-4 is far below the quantization effects the tests distinguish (> 1e-2).
constexpr double kGemmTol = 1e-4;

struct Layer {
  int64_t m = 24, n = 64, r = 3;
  formats::QuantSpec w = formats::parse_spec("nvfp4"), x = formats::parse_spec("nvfp4");
  std::vector<float> W, W_q, A, B;
  std::shared_ptr<QuantizedLinear> q;

  explicit Layer(uint64_t seed) {
    W = seeded(m * n, seed);
    W_q.resize(m * n);
    formats::fake_quant(w, W.data(), m, n, W_q.data());
    q = make_quantized_linear(w, W.data(), W_q.data(), {}, m, n, n, std::nullopt, "test");
    A = seeded(n * r, seed + 1);
    B = seeded(m * r, seed + 2);
  }
  LowRankBranch lowrank() const { return {Tensor::from({n, r}, A), Tensor::from({m, r}, B), "F32"}; }
};

}  // namespace

TEST(ActQuantLinear, BranchRunsOnTheUnquantizedInput) {
  const Layer L(11);
  const int64_t T = 5;
  std::vector<float> x = seeded(T * L.n, 7);
  x[3] = 9.0f;  // an outlier: its block's other values lose precision under Q_x
  ActQuantLinear lin(L.q, L.x, std::nullopt, L.lowrank(), "test");
  std::vector<float> y(T * L.m);
  lin.forward(x.data(), static_cast<int>(T), y.data());

  std::vector<float> xq(T * L.n);
  for (int64_t t = 0; t < T; ++t) formats::fake_quant(L.x, &x[t * L.n], 1, L.n, &xq[t * L.n]);
  std::vector<double> expect = matmul_nt(xq, L.W_q, T, L.n, L.m), wrong = expect;
  const std::vector<double> br = branch(x, L.A, L.B, T, L.n, L.m, L.r), br_q = branch(xq, L.A, L.B, T, L.n, L.m, L.r);
  for (size_t i = 0; i < expect.size(); ++i) expect[i] += br[i], wrong[i] += br_q[i];
  EXPECT_LE(max_abs_diff(y, expect), kGemmTol);
  // The test can tell the two apart: feeding Q_x(x) to the branch moves the output far beyond kGemmTol.
  ASSERT_GT(max_abs_diff(wrong, expect), 100 * kGemmTol);
  EXPECT_GT(max_abs_diff(y, wrong), 100 * kGemmTol);
}

TEST(ActQuantLinear, SmoothingDividesTheInputBeforeEverything) {
  const Layer L(21);
  const int64_t T = 4;
  const std::vector<float> x = seeded(T * L.n, 8);
  std::vector<float> s(L.n), xs(T * L.n);
  for (int64_t j = 0; j < L.n; ++j) s[j] = 0.25f + static_cast<float>(j % 7);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < L.n; ++j) xs[t * L.n + j] = x[t * L.n + j] / s[j];
  ActQuantLinear smoothed(L.q, L.x, Tensor::from({L.n}, s), L.lowrank(), "test");
  ActQuantLinear plain(L.q, L.x, std::nullopt, L.lowrank(), "test");
  std::vector<float> y(T * L.m), y_ref(T * L.m);
  smoothed.forward(x.data(), static_cast<int>(T), y.data());
  plain.forward(xs.data(), static_cast<int>(T), y_ref.data());
  EXPECT_EQ(y, y_ref);  // the same floats through the same kernels
}

TEST(ActQuantLinear, ActivationQuantizerIsPerToken) {
  const formats::QuantSpec x = formats::parse_spec("nvfp4");
  const int64_t T = 3, n = 48;  // n = 3 blocks of 16
  std::vector<float> X = seeded(T * n, 5);
  X[2 * n + 1] = 500.0f;  // token 2 has a huge outlier: a batch-wide global scale would change tokens 0, 1
  std::vector<float> batched(T * n), whole(T * n);
  quantize_activations(x, X.data(), T, n, batched.data());
  formats::fake_quant(x, X.data(), T, n, whole.data());
  for (int64_t t = 0; t < T; ++t) {
    std::vector<float> alone(n);
    formats::fake_quant(x, &X[t * n], 1, n, alone.data());
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), &batched[t * n])) << "token " << t;
  }
  EXPECT_FALSE(std::equal(whole.begin(), whole.begin() + n, batched.begin()))
      << "fake_quant over the batch shares the NVFP4 global scale; the runtime must not";
}

TEST(ActQuantLinear, CountsExtraParametersAndBits) {
  const Layer L(31);
  ActQuantLinear lin(L.q, L.x, Tensor::from({L.n}, std::vector<float>(L.n, 2.0f)),
                     LowRankBranch{Tensor::from({L.n, L.r}, L.A), Tensor::from({L.m, L.r}, L.B), "F16"}, "test");
  EXPECT_EQ(lin.rank(), 3);
  EXPECT_EQ(lin.extra_params(), L.r * (L.m + L.n) + L.n);
  const double mn = static_cast<double>(L.m * L.n);
  EXPECT_DOUBLE_EQ(lin.bits_per_weight(), L.q->bits_per_weight() + (16.0 * L.r * (L.m + L.n) + 32.0 * L.n) / mn);
  ActQuantLinear bare(L.q, L.x, std::nullopt, std::nullopt, "test");
  EXPECT_EQ(bare.extra_params(), 0);
  EXPECT_DOUBLE_EQ(bare.bits_per_weight(), L.q->bits_per_weight());
}

TEST(ActQuantLinear, RefusesActivationFormatsItCannotRun) {
  const Layer L(41);
  auto expect_error = [&](const std::string& x, const std::shared_ptr<QuantizedLinear>& q, const std::string& what) {
    try {
      ActQuantLinear(q, formats::parse_spec(x), std::nullopt, std::nullopt, "blk.q_proj");
      ADD_FAILURE() << x << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("blk.q_proj"), std::string::npos) << e.what();
    }
  };
  expect_error("int4-tensor", L.q, "depends on the batch");
  expect_error("nvfp4-2d", L.q, "16x16 tiles");
  expect_error("mxfp4", L.q, "MX activations need MX weights");
  // NVFP4 activations with INT4 weights.
  const int64_t m = 8, n = 40;
  const formats::QuantSpec w = formats::parse_spec("int4-g8");
  const std::vector<float> W = seeded(m * n, 3);
  std::vector<float> W_q(m * n);
  formats::fake_quant(w, W.data(), m, n, W_q.data());
  auto q_int = make_quantized_linear(w, W.data(), W_q.data(), {}, m, n, n, std::nullopt, "t");
  expect_error("nvfp4", q_int, "NVFP4 activations need NVFP4 weights");
  expect_error("int4-g32", q_int, "activation group 32 does not divide the 40 inputs");
  EXPECT_NO_THROW(ActQuantLinear(q_int, formats::parse_spec("int4-tok"), std::nullopt, std::nullopt, "t"));
  EXPECT_NO_THROW(ActQuantLinear(q_int, formats::parse_spec("fp8-e4m3-tok"), std::nullopt, std::nullopt, "t"));
  EXPECT_NO_THROW(ActQuantLinear(q_int, formats::parse_spec("int8-g8"), std::nullopt, std::nullopt, "t"));
}

TEST(ActQuantLinear, RefusesFactorsOfTheWrongShape) {
  const Layer L(51);
  LowRankBranch bad{Tensor::from({L.n + 1, L.r}, std::vector<float>((L.n + 1) * L.r)), Tensor::from({L.m, L.r}, L.B),
                    "F32"};
  EXPECT_THROW(ActQuantLinear(L.q, L.x, std::nullopt, bad, "t"), Error);
  EXPECT_THROW(ActQuantLinear(L.q, L.x, Tensor::from({L.n - 1}, std::vector<float>(L.n - 1, 1.0f)), std::nullopt, "t"),
               Error);
  EXPECT_THROW(ActQuantLinear(L.q, L.x, Tensor::from({L.n}, std::vector<float>(L.n, 0.0f)), std::nullopt, "t"), Error);
}

}  // namespace hessq::model
