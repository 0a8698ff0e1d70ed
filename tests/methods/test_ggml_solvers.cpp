// Solvers onto ggml's block types: RTN is ggml's reference quantizer (the bytes quantize_row_*_ref
// writes, and W_q what they decode to) or its weighted one with diag(H) (every type but Q8_0); GPTQ
// with a diagonal H and the reference grid is RTN (no feedback: each column rounds on the grid ggml
// chose); with correlated inputs GPTQ's proxy loss beats RTN's; every result decodes from its own
// bytes exactly. Rows that do not fill whole blocks and act-order are refused.
#include <gtest/gtest.h>

#include "gptq_inputs.hpp"

#include <cstdint>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/core/random.hpp"
#include "hessq/formats/ggml_blocks.hpp"
#include "hessq/formats/ggml_quantize.hpp"
#include "hessq/methods/ggml_solvers.hpp"
#include "hessq/methods/layer_quant.hpp"

namespace hessq::methods {
namespace {

using test::correlated_hessian;
using test::seeded;

// W_q decoded from the solver's own bytes.
MatF decoded(const QuantizedWeight& q) {
  MatF D(q.W_q.rows(), q.W_q.cols());
  formats::unpack(q.spec, *q.packed, q.W_q.rows(), q.W_q.cols(), D.data());
  return D;
}

const char* kTypes[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"};

TEST(GgmlSolvers, RtnIsGgmlsReferenceQuantizer) {
  const int64_t m = 8, n = 512;
  const MatF W = seeded(m, n, 3);
  for (const char* name : kTypes) {
    const formats::QuantSpec spec = formats::parse_spec(name);
    const QuantizedWeight q = solve_rtn_ggml(W, spec, nullptr, false);
    std::vector<uint8_t> ref(q.packed->codes.size());
    const int64_t rb = static_cast<int64_t>(ref.size()) / m;
    for (int64_t r = 0; r < m; ++r)
      formats::ggml_quantize_row_ref(formats::ggml_block_type(spec.ggml_type), &W(r, 0), n, ref.data() + r * rb);
    EXPECT_EQ(q.packed->codes, ref) << name;
    EXPECT_EQ(decoded(q), q.W_q) << name;
    EXPECT_EQ(fake_quant_padded(spec, W), q.W_q) << name;  // the format's fake_quant is the same quantizer
  }
}

// rtn with `importance` is ggml's weighted quantizer fed diag(H) (as llama-quantize --imatrix), on
// every type with one; on Q8_0, which ggml quantizes without weights, the reference.
TEST(GgmlSolvers, RtnWithImportanceIsGgmlsWeightedQuantizer) {
  const int64_t m = 4, n = 512;
  const MatF W = seeded(m, n, 6);
  const linalg::Mat H = correlated_hessian(n, 256, 4);
  std::vector<float> diag(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) diag[static_cast<size_t>(j)] = static_cast<float>(H(j, j));
  for (const char* name : kTypes) {
    const formats::QuantSpec spec = formats::parse_spec(name);
    const formats::GgmlType type = formats::ggml_block_type(spec.ggml_type);
    const QuantizedWeight q = solve_rtn_ggml(W, spec, &H, true);
    std::vector<uint8_t> want(q.packed->codes.size());
    const int64_t rb = static_cast<int64_t>(want.size()) / m;
    const bool weighted = formats::ggml_supports_importance(type);
    EXPECT_EQ(weighted, type != formats::GgmlType::kQ8_0) << name;
    for (int64_t r = 0; r < m; ++r)
      formats::ggml_quantize_row(type, &W(r, 0), n, weighted ? diag.data() : nullptr, want.data() + r * rb);
    EXPECT_EQ(q.packed->codes, want) << name;
    EXPECT_EQ(decoded(q), q.W_q) << name;
  }
}

TEST(GgmlSolvers, GptqWithADiagonalHessianIsRtn) {
  const MatF W = seeded(16, 512, 1);
  const linalg::Mat H = linalg::Mat::Identity(512, 512) * 2.0;
  GptqOptions opt;
  opt.importance = false;
  for (const char* name : {"q4_0", "q4_k", "q6_k"}) {
    const formats::QuantSpec spec = formats::parse_spec(name);
    const QuantizedWeight g = solve_gptq_ggml(W, H, spec, opt);
    // The first block of each row is chosen from untouched values: without feedback (diagonal H) no
    // value ever moves, so every block's grid and rounding are the reference quantizer's.
    EXPECT_EQ(g.W_q, solve_rtn_ggml(W, spec, nullptr, false).W_q) << name;
    EXPECT_EQ(decoded(g), g.W_q) << name;
  }
}

TEST(GgmlSolvers, GptqBeatsRtnOnCorrelatedInputs) {
  const int64_t m = 32, n = 512;
  const MatF W = seeded(m, n, 5);
  const linalg::Mat H = correlated_hessian(n, 1024, 9);
  for (const char* name : {"q4_0", "q4_1", "q8_0", "q3_k", "q4_k", "q6_k"}) {
    const formats::QuantSpec spec = formats::parse_spec(name);
    const QuantizedWeight g = solve_gptq_ggml(W, H, spec);
    const QuantizedWeight r = solve_rtn_ggml(W, spec, &H, false);
    // Error feedback on correlated inputs: well beyond noise on this problem.
    EXPECT_LT(g.proxy_loss, 0.8 * r.proxy_loss) << name;
    EXPECT_EQ(decoded(g), g.W_q) << name;
    if (formats::ggml_supports_importance(formats::ggml_block_type(spec.ggml_type))) {
      const QuantizedWeight ri = solve_rtn_ggml(W, spec, &H, true);  // llama-quantize with diag(H) as imatrix
      EXPECT_LT(g.proxy_loss, 0.8 * ri.proxy_loss) << name;
      EXPECT_EQ(decoded(ri), ri.W_q) << name;
    }
  }
}

TEST(GgmlSolvers, RefusesRaggedRowsActOrderAndOtherFormats) {
  const MatF W = seeded(4, 96, 2);
  const linalg::Mat H = linalg::Mat::Identity(96, 96);
  EXPECT_THROW(solve_gptq_ggml(W, H, formats::parse_spec("q4_k")), Error);  // 96 is not a multiple of 256
  EXPECT_THROW(solve_rtn_ggml(W, formats::parse_spec("q4_k"), nullptr, false), Error);
  EXPECT_THROW(solve_gptq_ggml(W, H, formats::parse_spec("int4-g32")), Error);
  EXPECT_THROW(solve_rtn_ggml(W, formats::parse_spec("q4_0"), nullptr, true), Error);  // importance needs H
  GptqOptions opt;
  opt.act_order = true;
  EXPECT_THROW(solve_gptq_ggml(W, H, formats::parse_spec("q4_0"), opt), Error);
}

}  // namespace
}  // namespace hessq::methods
