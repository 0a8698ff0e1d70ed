// QuantizedLinear: packed codes decode to exactly the solver's W_q, the layer runs with W_q, zero
// padding is cropped, and a solver/format disagreement is refused.
#include <gtest/gtest.h>

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
  EXPECT_TRUE(std::equal(W_q.begin(), W_q.end(), q->weight().ptr()));
  EXPECT_DOUBLE_EQ(q->bits_per_weight(), 4.0 + 16.0 / 32 + 8.0 / 32);  // codes + F16 scale + U8 zero per 32
  EXPECT_EQ(q->packed_bytes(), m * n / 2 + 2 * m * 2 + m * 2);

  const std::vector<float> x = seeded(3 * n, 2);
  std::vector<float> y(3 * m), y_ref(3 * m);
  q->forward(x.data(), 3, y.data());
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
    for (int64_t c = 0; c < n; ++c) EXPECT_EQ(q->weight().ptr()[r * n + c], W_q[r * np + c]);
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

}  // namespace hessq::model
