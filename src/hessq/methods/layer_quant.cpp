#include "hessq/methods/layer_quant.hpp"

#include <cmath>
#include <limits>

#include "hessq/core/error.hpp"
#include "hessq/kernels/gemm_f32.hpp"

namespace hessq::methods {

const std::vector<LayerFormatRow>& layer_format_table() {
  static const std::vector<LayerFormatRow> kTable = {
      {"nvfp4", "nvfp4", "nvfp4", "NVFP4 W4A4: 1x16 E4M3-scaled blocks + FP32 global scale, both sides"},
      {"nvfp4-2d", "nvfp4-2d", "nvfp4", "NVFP4 W4A4 with 16x16 weight tiles"},
      {"nvfp4-ref", "nvfp4-ref", "nvfp4-ref-1d",
       "ARHQ reference code: 16x16 weight tiles, 1x16 activation blocks, e4m3_sim scale, no global scale"},
      {"mxfp4", "mxfp4", "mxfp4", "OCP MXFP4 W4A4: 1x32 blocks, E8M0 scale"},
      {"mxfp8", "mxfp8", "mxfp8", "OCP MXFP8 W8A8: 1x32 blocks, E8M0 scale"},
      {"int4", "int4-g32", "int4-tok", "INT4 W4A4: weights symmetric per group of 32, activations per token"},
      {"int8", "int8", "int8-tok", "INT8 W8A8: weights per output channel, activations per token"},
      {"w4a8", "int4-g32", "int8-tok", "INT4 weights (group 32), INT8 activations per token"},
  };
  return kTable;
}

LayerFormat parse_layer_format(const std::string& name) {
  std::string names;
  for (const LayerFormatRow& r : layer_format_table()) {
    if (name == r.name) return LayerFormat{name, formats::parse_spec(r.w), formats::parse_spec(r.x)};
    names += (names.empty() ? "" : ", ") + std::string(r.name);
  }
  HESSQ_FAIL("unknown format '{}'; accepted: {} (or --wformat/--aformat with format specs)", name, names);
}

LayerFormat layer_format_from_specs(const std::string& w_spec, const std::string& x_spec) {
  return LayerFormat{"w:" + w_spec + ",a:" + x_spec, formats::parse_spec(w_spec), formats::parse_spec(x_spec)};
}

// Block length along the columns (and rows, for tiles) that fake_quant needs whole.
static std::pair<int64_t, int64_t> block_shape(const formats::QuantSpec& s) {
  using formats::Format;
  using formats::Granularity;
  if (s.granularity == Granularity::Tile2D) return {16, 16};
  if (s.format == Format::NvFp4) return {1, 16};
  if (s.format == Format::MxFp4 || s.format == Format::MxFp8) return {1, 32};
  if (s.granularity == Granularity::PerGroup && s.group > 0) return {1, s.group};
  return {1, 1};
}

MatF fake_quant_padded(const formats::QuantSpec& spec, const MatF& M) {
  const auto [br, bc] = block_shape(spec);
  const int64_t rows = M.rows(), cols = M.cols();
  const int64_t pr = (rows + br - 1) / br * br, pc = (cols + bc - 1) / bc * bc;
  if (pr == rows && pc == cols) {
    MatF out(rows, cols);
    formats::fake_quant(spec, M.data(), rows, cols, out.data());
    return out;
  }
  MatF padded = MatF::Zero(pr, pc);
  padded.topLeftCorner(rows, cols) = M;
  formats::fake_quant(spec, padded.data(), pr, pc, padded.data());
  return padded.topLeftCorner(rows, cols);
}

MatF matmul_nt(const MatF& A, const MatF& B) {
  HESSQ_CHECK(A.cols() == B.cols(), "matmul_nt: inner dimensions differ ([{}, {}] x [{}, {}]^T)", A.rows(), A.cols(),
              B.rows(), B.cols());
  MatF C(A.rows(), B.rows());
  if (C.size() == 0) return C;
  if (A.cols() == 0) return MatF::Zero(A.rows(), B.rows());
  kernels::gemm_f32_rows(false, true, A.rows(), B.rows(), A.cols(), 1.0f, A.data(), A.cols(), B.data(), B.cols(), 0.0f,
                         C.data(), C.cols());
  return C;
}

double OutputError::snr_db() const {
  if (noise == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

OutputError output_error(const MatF& Y, const MatF& Y_hat) {
  HESSQ_CHECK(Y.rows() == Y_hat.rows() && Y.cols() == Y_hat.cols(), "output shapes differ: [{}, {}] vs [{}, {}]",
              Y.rows(), Y.cols(), Y_hat.rows(), Y_hat.cols());
  OutputError e;
  const float* y = Y.data();
  const float* h = Y_hat.data();
  for (Eigen::Index i = 0; i < Y.size(); ++i) {
    const double d = static_cast<double>(h[i]) - y[i];
    e.signal += static_cast<double>(y[i]) * y[i];
    e.noise += d * d;
  }
  return e;
}

double snr_db(const MatF& Y, const MatF& Y_hat) { return output_error(Y, Y_hat).snr_db(); }

MatF strided_rows(const MatF& X, int64_t max_rows) {
  if (max_rows <= 0 || max_rows >= X.rows()) return X;
  const int64_t stride = X.rows() / max_rows;  // >= 1
  MatF out(max_rows, X.cols());
  for (int64_t i = 0; i < max_rows; ++i) out.row(i) = X.row(i * stride);
  return out;
}

void check_finite(const MatF& M, const std::string& what) {
  if (M.allFinite()) return;
  for (Eigen::Index i = 0; i < M.rows(); ++i)
    for (Eigen::Index j = 0; j < M.cols(); ++j)
      HESSQ_CHECK(std::isfinite(M(i, j)), "{} [{}, {}] holds a NaN or Inf at row {}, column {} (value {})", what,
                  M.rows(), M.cols(), i, j, M(i, j));
}

}  // namespace hessq::methods
