#include "hessq/methods/ggml_solvers.hpp"

#include <utility>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_blocks.hpp"
#include "hessq/formats/ggml_format.hpp"
#include "hessq/formats/ggml_quantize.hpp"
#include "hessq/formats/ggml_types.hpp"
#include "hessq/methods/gptq_blocked.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods {

namespace {

using formats::GgmlGrid;

void check_spec(const formats::QuantSpec& spec, int64_t n, const char* who) {
  HESSQ_CHECK(spec.format == formats::Format::Ggml, "{}: spec '{}' is not a ggml block type", who, spec.name());
  formats::ggml_row_bytes(spec, n);  // rows fill whole blocks
}

std::vector<float> diag_of(const linalg::Mat& H) {
  std::vector<float> d(static_cast<size_t>(H.rows()));
  for (int64_t j = 0; j < H.rows(); ++j) d[j] = static_cast<float>(H(j, j));
  return d;
}

// The GPTQ grid of gptq_blocked: ggml's grid per row and block, the block's bytes written when its
// last column has been rounded.
struct GgmlGptqGrid {
  formats::GgmlType type;
  int64_t blk, block_bytes, row_bytes;
  const float* importance;        // diag(H) [n] or nullptr
  std::vector<float> row_sigma2;  // per row: sum(w^2) / n of the weight the loop starts from
  std::vector<GgmlGrid> cur;      // per row: the grid of the block being rounded
  std::vector<float> pending;     // per row: the block's rounded values so far
  std::vector<uint8_t> bytes;     // [m, row_bytes]

  GgmlGptqGrid(const formats::QuantSpec& spec, int64_t m, int64_t n, const float* imp)
      : type(formats::ggml_block_type(spec.ggml_type)),
        blk(spec.group),
        block_bytes(static_cast<int64_t>(*formats::ggml_nbytes(spec.ggml_type, spec.group))),
        row_bytes(formats::ggml_row_bytes(spec, n)),
        importance(imp),
        row_sigma2(m),
        cur(m),
        pending(m * blk),
        bytes(m * row_bytes) {}
  void begin(const MatF& W) {
    for (int64_t r = 0; r < W.rows(); ++r) row_sigma2[r] = W.row(r).squaredNorm() / static_cast<float>(W.cols());
  }
  void enter(int64_t r, int64_t b, const float* x, int64_t) {
    const float* imp = importance ? importance + b * blk : nullptr;
    float total = 0;
    for (int64_t i = 0; imp && i < blk; ++i) total += imp[i];
    // A block of dead inputs (diag H = 0) has no importance to weigh by: ggml's reference grid.
    cur[r] = formats::ggml_block_grid(type, x, total > 0 ? imp : nullptr, row_sigma2[r]);
  }
  float quant(int64_t r, int64_t j, float w) {
    const int64_t i = j % blk;
    const float q = formats::ggml_grid_qdq(cur[r], static_cast<int>(i), w);
    pending[r * blk + i] = q;
    if (i == blk - 1)
      formats::ggml_pack_values(cur[r], &pending[r * blk], bytes.data() + r * row_bytes + (j / blk) * block_bytes);
    return q;
  }
};

}  // namespace

QuantizedWeight solve_rtn_ggml(const MatF& W, const formats::QuantSpec& spec, const linalg::Mat* H, bool importance) {
  check_spec(spec, W.cols(), "rtn");
  check_weight(W, "rtn");
  if (H) check_hessian(*H, W.cols(), "rtn");
  HESSQ_CHECK(!importance || H, "rtn: ggml's weighted quantizer needs the calibration statistics (diag H)");
  const formats::GgmlType type = formats::ggml_block_type(spec.ggml_type);
  // Every type but Q8_0 has a weighted quantizer; ggml's Q8_0 ignores an importance matrix.
  importance = importance && formats::ggml_supports_importance(type);
  const std::vector<float> imp = importance ? diag_of(*H) : std::vector<float>();
  const int64_t m = W.rows(), n = W.cols(), rb = formats::ggml_row_bytes(spec, n);
  QuantizedWeight out;
  out.spec = spec;
  out.W_q.resize(m, n);
  formats::Packed p;
  p.scale_dtype = "ggml";
  p.codes.resize(static_cast<size_t>(m * rb));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < m; ++r) {
    formats::ggml_quantize_row(type, &W(r, 0), n, importance ? imp.data() : nullptr, p.codes.data() + r * rb);
    formats::ggml_dequantize(type, p.codes.data() + r * rb, n, &out.W_q(r, 0));
  }
  out.packed = std::move(p);
  if (H) out.proxy_loss = proxy_loss(W, out.W_q, *H);
  return out;
}

QuantizedWeight solve_gptq_ggml(const MatF& W0, const linalg::Mat& H0, const formats::QuantSpec& spec,
                                const GptqOptions& opt) {
  return solve_gptq_ggml(W0, linalg::Mat(H0), spec, opt);
}

QuantizedWeight solve_gptq_ggml(const MatF& W0, linalg::Mat&& H_given, const formats::QuantSpec& spec,
                                const GptqOptions& opt) {
  linalg::Mat H = std::move(H_given);  // ours from here: factored in place, freed on return
  check_spec(spec, W0.cols(), "gptq-ggml");
  detail::check_blocked_inputs(W0, H, opt, "gptq-ggml");
  const std::vector<float> imp = opt.importance ? diag_of(H) : std::vector<float>();  // before damping
  // Q8_0 has no weighted search (formats::ggml_supports_importance): its reference grid.
  const bool weigh = opt.importance && formats::ggml_supports_importance(formats::ggml_block_type(spec.ggml_type));
  GgmlGptqGrid grid(spec, W0.rows(), W0.cols(), weigh ? imp.data() : nullptr);
  QuantizedWeight out;
  out.spec = spec;
  if (spec.group == 32)
    out.W_q = detail::gptq_blocked<32>(W0, H, opt, grid, out.proxy_loss);
  else
    out.W_q = detail::gptq_blocked<256>(W0, H, opt, grid, out.proxy_loss);
  formats::Packed p;
  p.scale_dtype = "ggml";
  p.codes = std::move(grid.bytes);
  out.packed = std::move(p);
  return out;
}

}  // namespace hessq::methods
