// GPTQ for MXFP4: with a diagonal H it is RTN; with correlated inputs its proxy loss beats RTN's;
// its result is a fixed point of the MXFP4 quantizer (so pack/unpack reproduce it); other formats
// and act-order are refused.
#include <gtest/gtest.h>

#include "gptq_inputs.hpp"

#include <cstdint>

#include "hessq/formats/nvfp4.hpp"
#include "hessq/core/random.hpp"
#include "hessq/core/error.hpp"
#include "hessq/methods/gptq_mx.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods {

namespace {

using test::correlated_hessian;
using test::seeded;

const formats::QuantSpec kMx = formats::parse_spec("mxfp4");

}  // namespace

TEST(GptqMx, DiagonalHessianIsRtn) {
  const MatF W = seeded(16, 96, 1);
  const linalg::Mat H = linalg::Mat::Identity(96, 96) * 2.0;
  GptqOptions opt;
  opt.block = 64;  // rounded up to a multiple of 32; any block gives the same result here
  const QuantizedWeight g = solve_gptq_mx(W, H, kMx, opt);
  EXPECT_EQ(g.W_q, fake_quant_padded(kMx, W));  // no feedback: every column rounds on its own
}

TEST(GptqMx, BeatsRtnOnCorrelatedInputsAndIsAFixedPoint) {
  const int64_t m = 64, n = 128 + 20;  // a trailing partial MX block
  const MatF W = seeded(m, n, 5);
  const linalg::Mat H = correlated_hessian(n, 512, 9);
  const QuantizedWeight g = solve_gptq_mx(W, H, kMx);
  const QuantizedWeight r = solve_rtn(W, kMx, &H);
  EXPECT_LT(g.proxy_loss, 0.8 * r.proxy_loss);  // error feedback helps well beyond noise on this problem
  EXPECT_EQ(fake_quant_padded(kMx, g.W_q), g.W_q);
  std::vector<float> dec(static_cast<size_t>(m * n));
  formats::unpack(kMx, formats::pack(kMx, g.W_q.data(), m, n), m, n, dec.data());
  EXPECT_TRUE(std::equal(dec.begin(), dec.end(), g.W_q.data()));
}

TEST(GptqMx, RefusesOtherFormatsAndActOrder) {
  const MatF W = seeded(4, 32, 2);
  const linalg::Mat H = linalg::Mat::Identity(32, 32);
  for (const char* f : {"nvfp4", "mxfp8", "int4-g32"}) EXPECT_THROW(solve_gptq_mx(W, H, formats::parse_spec(f)), Error) << f;
  GptqOptions opt;
  opt.act_order = true;
  EXPECT_THROW(solve_gptq_mx(W, H, kMx, opt), Error);
}

// NVFP4 (1x16, E4M3 block scales, FP32 global scale).
static const formats::QuantSpec kNv = formats::parse_spec("nvfp4");

TEST(GptqNvfp4, DiagonalHessianIsRtn) {
  const MatF W = seeded(16, 96, 1);
  const linalg::Mat H = linalg::Mat::Identity(96, 96) * 2.0;
  const QuantizedWeight g = solve_gptq_nvfp4(W, H, kNv);
  EXPECT_EQ(g.W_q, fake_quant_padded(kNv, W));  // same g (from W), no feedback: each column rounds on its own
}

TEST(GptqNvfp4, BeatsRtnAndPacksOnItsOwnGrid) {
  const int64_t m = 64, n = 128 + 12;  // a trailing partial block of 12
  const MatF W = seeded(m, n, 5);
  const linalg::Mat H = correlated_hessian(n, 512, 9);
  const QuantizedWeight g = solve_gptq_nvfp4(W, H, kNv);
  const QuantizedWeight r = solve_rtn(W, kNv, &H);
  EXPECT_LT(g.proxy_loss, 0.8 * r.proxy_loss);  // error feedback helps well beyond noise on this problem
  ASSERT_TRUE(g.packed.has_value());
  std::vector<float> dec(static_cast<size_t>(m * n));
  formats::unpack(kNv, *g.packed, m, n, dec.data());
  EXPECT_TRUE(std::equal(dec.begin(), dec.end(), g.W_q.data()));  // bit for bit
}

TEST(GptqNvfp4, RefusesTilesReferenceModeAndActOrder) {
  const MatF W = seeded(16, 32, 2);
  const linalg::Mat H = linalg::Mat::Identity(32, 32);
  for (const char* f : {"nvfp4-2d", "nvfp4-ref", "mxfp4"})
    EXPECT_THROW(solve_gptq_nvfp4(W, H, formats::parse_spec(f)), Error) << f;
  GptqOptions opt;
  opt.act_order = true;
  EXPECT_THROW(solve_gptq_nvfp4(W, H, kNv, opt), Error);
}

TEST(Nvfp4PackOnGrid, RejectsAValueOffTheGrid) {
  std::vector<float> x(16, 0.0f), xq(16);
  x[0] = 6.0f;
  x[1] = 1.0f;
  formats::fake_quant(kNv, x.data(), 1, 16, xq.data());  // on the grid of its own g and block scale
  const float g = formats::nvfp4_global_scale(x.data(), 16);
  const std::vector<uint8_t> codes = {formats::nvfp4_block_scale_code(6.0f, g)};
  EXPECT_NO_THROW(formats::nvfp4_pack_on_grid(kNv, xq.data(), 1, 16, g, codes));
  xq[2] = 0.75f * xq[1];  // between the grid points 0.5 and 1 (times s_b g)
  EXPECT_THROW(formats::nvfp4_pack_on_grid(kNv, xq.data(), 1, 16, g, codes), Error);
}

}  // namespace hessq::methods
