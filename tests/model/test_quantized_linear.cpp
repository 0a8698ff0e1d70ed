// QuantizedLinear: packed codes decode to exactly the solver's W_q, the layer runs with W_q (INT block
// layers on their packed bytes: exactly in prefill, within the int8 activation rounding in decode),
// zero padding is cropped, and a solver/format disagreement is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "hessq/core/random.hpp"
#include "hessq/core/error.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/model/quantized_linear.hpp"

namespace hessq::model {

static std::vector<float> seeded(int64_t n, uint64_t seed) {  // splitmix64 -> uniform [-1, 1)
  std::vector<float> v(n);
  for (auto& x : v) {
    x = static_cast<float>(static_cast<double>(splitmix64(seed)) / 9.223372036854775808e18 - 1.0);
  }
  return v;
}

TEST(QuantizedLinear, RunsWithTheDequantizedWeight) {
  const int64_t m = 16, n = 64;
  const formats::QuantSpec spec = formats::parse_spec("int4-asym-g32");
  const std::vector<float> W = seeded(m * n, 1);
  std::vector<float> W_q(m * n);
  formats::fake_quant(spec, W.data(), m, n, W_q.data());
  auto q = make_quantized_linear(spec, W.data(), W_q.data(), {}, m, n, n, std::nullopt, "test");
  EXPECT_EQ(q->layout(), WeightLayout::IntBlocks);
  const Tensor Wd = q->dequantized();
  EXPECT_TRUE(std::equal(W_q.begin(), W_q.end(), Wd.ptr()));
  EXPECT_DOUBLE_EQ(q->bits_per_weight(), 4.0 + 16.0 / 32 + 8.0 / 32);  // codes + F16 scale + U8 zero per 32
  EXPECT_EQ(q->packed_bytes(), m * n / 2 + 2 * m * 2 + m * 2);

  const std::vector<float> x = seeded(3 * n, 2);
  std::vector<float> y(3 * m), y_ref(3 * m);
  q->forward_exact(x.data(), 3, y.data());
  model::DenseLinear(Tensor::from({m, n}, W_q)).forward(x.data(), 3, y_ref.data());
  EXPECT_EQ(y, y_ref);  // the same GEMM on the same weights
}

TEST(QuantizedLinear, PaddedInputsAreCropped) {
  const int64_t m = 8, n = 40, np = 64;  // group 32 does not divide 40: zero-pad to 64
  const formats::QuantSpec spec = formats::parse_spec("int3-g32");
  const std::vector<float> W = seeded(m * n, 3);
  std::vector<float> W_pad(m * np, 0.0f), W_q(m * np);
  for (int64_t r = 0; r < m; ++r) std::copy(&W[r * n], &W[r * n] + n, &W_pad[r * np]);
  formats::fake_quant(spec, W_pad.data(), m, np, W_q.data());
  auto q = make_quantized_linear(spec, W_pad.data(), W_q.data(), {}, m, np, n, std::nullopt, "test");
  EXPECT_EQ(q->in_features(), n);
  EXPECT_EQ(q->stored_in_features(), np);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) EXPECT_EQ(q->dequantized().ptr()[r * n + c], W_q[r * np + c]);
  EXPECT_DOUBLE_EQ(q->bits_per_weight(), (3.0 + 16.0 / 32) * np / n);  // padding is paid for
}

TEST(QuantizedLinear, RefusesAWeightTheCodesDoNotReproduce) {
  const int64_t m = 4, n = 32;
  const formats::QuantSpec spec = formats::parse_spec("int4-g32");
  const std::vector<float> W = seeded(m * n, 4);
  std::vector<float> W_q(m * n);
  formats::fake_quant(spec, W.data(), m, n, W_q.data());
  W_q[5] += 0.01f;  // a solver claiming a value off the grid
  try {
    make_quantized_linear(spec, W.data(), W_q.data(), {}, m, n, n, std::nullopt, "blk0.q_proj");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk0.q_proj: packed int4-g32 codes decode to"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at [0, 5]"), std::string::npos) << e.what();
  }
}

// Every INT width, symmetric and asymmetric, per channel (ragged: 172 and 33 inputs) and per group:
// prefill equals DenseLinear on the dequantized weight bit for bit (the same sgemm), exact decode
// agrees to fp32 rounding, and the int8-activation decode stays within its rounding bound.
TEST(QuantizedLinear, IntBlockLayersComputeWithTheirDequantizedWeight) {
  struct Case {
    const char* spec;
    int64_t m, n;
  };
  const Case cases[] = {{"int2-g64", 70, 128}, {"int3", 33, 172}, {"int4-asym-g128", 65, 256}, {"int5-g32", 8, 96},
                        {"int6-asym", 5, 33},  {"int7-g32", 3, 64}, {"int8", 130, 200},           {"int8-asym-g32", 9, 64}};
  const ScopedInt8Activations restore(int8_activations());
  for (const Case& c : cases) {
    const formats::QuantSpec spec = formats::parse_spec(c.spec);
    const std::vector<float> W = seeded(c.m * c.n, 5), b = seeded(c.m, 6);
    std::vector<float> W_q(c.m * c.n);
    formats::fake_quant(spec, W.data(), c.m, c.n, W_q.data());
    auto q = make_quantized_linear(spec, W.data(), W_q.data(), {}, c.m, c.n, c.n, Tensor::from({c.m}, b), c.spec);
    ASSERT_EQ(q->layout(), WeightLayout::IntBlocks) << c.spec;
    const DenseLinear dense(Tensor::from({c.m, c.n}, W_q), Tensor::from({c.m}, b));
    const std::vector<float> x = seeded(4 * c.n, 7);
    std::vector<float> y(4 * c.m), y_ref(4 * c.m);
    set_int8_activations(Int8Activations::Off);
    q->forward(x.data(), 4, y.data());
    dense.forward(x.data(), 4, y_ref.data());
    EXPECT_EQ(y, y_ref) << c.spec;
    q->forward(x.data(), 1, y.data());
    dense.forward(x.data(), 1, y_ref.data());
    for (int64_t r = 0; r < c.m; ++r) {
      double mag = 0, bound = 0;
      for (int64_t k = 0; k < c.n; ++k) {
        mag += std::abs(W_q[r * c.n + k] * x[k]);
        float amax = 0;  // x's 32-block around k: int8 rounding error <= amax / 254 per value
        for (int64_t i = k / 32 * 32; i < std::min(c.n, k / 32 * 32 + 32); ++i) amax = std::max(amax, std::abs(x[i]));
        bound += std::abs(W_q[r * c.n + k]) * amax / 254.0;
      }
      // Two fp32 sums of n terms in different orders: n * 2^-23 * sum |w x| bounds their difference.
      EXPECT_NEAR(y[r], y_ref[r], c.n * 0x1.0p-23 * mag + 1e-6) << c.spec << " exact decode row " << r;
      set_int8_activations(Int8Activations::Auto);
      std::vector<float> y8(c.m);
      q->forward(x.data(), 1, y8.data());
      set_int8_activations(Int8Activations::Off);
      EXPECT_NEAR(y8[r], y_ref[r], bound + c.n * 0x1.0p-22 * mag + 1e-6) << c.spec << " int8 decode row " << r;
    }
  }
}

TEST(QuantizedLinear, OtherFormatsStayPlanarAndCountTheirGlobalScale) {
  const int64_t m = 16, n = 64;
  for (const char* name : {"nvfp4", "mxfp4", "int4-g16", "int4-tensor"}) {
    const formats::QuantSpec spec = formats::parse_spec(name);
    const std::vector<float> W = seeded(m * n, 8);
    std::vector<float> W_q(m * n);
    formats::fake_quant(spec, W.data(), m, n, W_q.data());
    auto q = make_quantized_linear(spec, W.data(), W_q.data(), {}, m, n, n, std::nullopt, name);
    EXPECT_EQ(q->layout(), WeightLayout::Planar) << name;
    EXPECT_DOUBLE_EQ(q->bits_per_weight(), spec.bits_per_element(m, n)) << name;  // nominal = stored for these
  }
}

}  // namespace hessq::model
