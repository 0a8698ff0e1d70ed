#include "hessq/methods/gptq_mx.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/formats/fp4.hpp"
#include "hessq/formats/fp8.hpp"
#include "hessq/formats/mx.hpp"
#include "hessq/formats/nvfp4.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods {

namespace {

// Step 3 inside H's buffer, bit-identical to cholesky_upper(spd_inverse(H)) in float: potrf gives
// R (H = R^T R), potri turns R into H^-1's upper triangle, potrf again gives U (H^-1 = U^T U). Each
// touches only the upper triangle, so R's strict upper triangle waits in the strict lower one (and
// its diagonal in a vector) and is put back once U has been copied out: on return H holds R, which
// the proxy loss needs (gptq.hpp, detail::proxy_loss_from_factor). U in float is the one extra n x n.
MatF inverse_factor_in_place(linalg::Mat& H) {
  const int64_t n = H.rows();
  linalg::cholesky_upper_in_place(H);
  const linalg::Vec r_diag = H.diagonal();
  linalg::symmetrize_from_upper(H);  // strict lower := R^T
  linalg::cholesky_inverse_in_place(H);
  linalg::cholesky_upper_in_place(H);
  MatF U = MatF::Zero(n, n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) U(i, j) = static_cast<float>(H(i, j));
  linalg::symmetrize_from_lower(H);  // upper := R, strict
  H.diagonal() = r_diag;
  return U;
}

// GPTQ's column loop for block-scaled FP4 (steps 1-5 of gptq_mx.hpp), on H's own buffer (consumed).
// `Grid` chooses each row's scale when the loop enters a block of `kB` columns (enter(r, amax)) and
// rounds a value to it (quant(r, w)). Returns W_q and sets `proxy_loss` (with W0's undamped H).
template <int64_t kB, class Grid>
MatF gptq_blocked(const MatF& W0, linalg::Mat& H, const GptqOptions& opt, Grid& grid, double& proxy_loss) {
  const int64_t m = W0.rows(), n = W0.cols();
  // Steps 1-3.
  MatF W = W0;
  std::vector<int64_t> dead, order(n);
  for (int64_t j = 0; j < n; ++j)
    if (H(j, j) == 0) {
      H(j, j) = 1;
      W.col(j).setZero();
      dead.push_back(j);
    }
  const double lambda = opt.damp * H.diagonal().mean();
  H.diagonal().array() += lambda;
  const MatF U = inverse_factor_in_place(H);
  std::iota(order.begin(), order.end(), 0);
  grid.begin(W);

  // Steps 4-5.
  const int64_t block = (opt.block + kB - 1) / kB * kB;
  MatF Q = MatF::Zero(m, n);
  for (int64_t i1 = 0; i1 < n; i1 += block) {
    const int64_t i2 = std::min(i1 + block, n), count = i2 - i1;
    MatF W1 = W.middleCols(i1, count);
    MatF Err1 = MatF::Zero(m, count);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i1 + i;
      if (j % kB == 0) {  // entering a block: scales from the block's current values
        const int64_t c1 = std::min(i + kB, count);
        for (int64_t r = 0; r < m; ++r) {
          float amax = 0.0f;
          for (int64_t c = i; c < c1; ++c) amax = std::max(amax, std::fabs(W1(r, c)));
          grid.enter(r, j / kB, amax);
        }
      }
      const float d = U(j, j);
      for (int64_t r = 0; r < m; ++r) {
        const float w = W1(r, i);
        const float q = grid.quant(r, w);
        Q(r, j) = q;
        Err1(r, i) = (w - q) / d;
      }
      if (i + 1 < count)
        W1.rightCols(count - i - 1).noalias() -= Err1.col(i) * U.row(j).segment(j + 1, count - i - 1);
    }
    if (i2 < n) W.rightCols(n - i2).noalias() -= Err1 * U.block(i1, i2, count, n - i2);
  }
  proxy_loss = detail::proxy_loss_from_factor(W0, Q, H, order, lambda, dead);  // H holds R (natural order)
  return Q;
}

// MXFP4: scale 2^(floor(log2 amax) - 2) (E8M0, formats/mx.hpp).
struct MxGrid {
  std::vector<float> scale, inv;
  explicit MxGrid(int64_t m) : scale(m), inv(m) {}
  void begin(const MatF&) {}
  void enter(int64_t r, int64_t, float amax) {
    constexpr int kEmax = 2;  // E2M1's largest exponent
    const uint8_t byte = formats::mx_scale_byte(amax, kEmax);
    scale[r] = formats::mx_scale_value(byte);
    inv[r] = std::ldexp(1.0f, 127 - byte);
  }
  float quant(int64_t r, float w) const {
    return formats::e2m1_decode(formats::e2m1_encode(w * inv[r])) * scale[r];
  }
};

// NVFP4 1x16: g fixed from the weight the loop starts with (after dead columns), E4M3 block scales
// chosen per block and recorded for packing (formats::nvfp4_pack_on_grid).
struct NvGrid {
  int64_t nb;
  float g = 1.0f;
  std::vector<float> s;
  std::vector<uint8_t> codes;  // [m, nb]
  NvGrid(int64_t m, int64_t n) : nb((n + formats::kNvfp4Block - 1) / formats::kNvfp4Block), s(m), codes(m * nb) {}
  void begin(const MatF& W) { g = formats::nvfp4_global_scale(W.data(), W.size()); }
  void enter(int64_t r, int64_t b, float amax) {
    codes[r * nb + b] = formats::nvfp4_block_scale_code(amax, g);
    s[r] = formats::e4m3_decode(codes[r * nb + b]);
  }
  float quant(int64_t r, float w) const { return formats::nvfp4_quant_dequant(w, s[r], g); }
};

void check_common(const MatF& W0, const linalg::Mat& H0, const GptqOptions& opt, const char* who) {
  HESSQ_CHECK(!opt.act_order, "{}: act_order is not supported (scale blocks must be entered in order)", who);
  HESSQ_CHECK(opt.damp >= 0 && opt.block >= 1, "{}: damp {} / block {} out of range", who, opt.damp, opt.block);
  check_weight(W0, who);
  check_hessian(H0, W0.cols(), who);
}

}  // namespace

QuantizedWeight solve_gptq_mx(const MatF& W0, const linalg::Mat& H0, const formats::QuantSpec& spec,
                              const GptqOptions& opt) {
  return solve_gptq_mx(W0, linalg::Mat(H0), spec, opt);
}

QuantizedWeight solve_gptq_mx(const MatF& W0, linalg::Mat&& H_given, const formats::QuantSpec& spec,
                              const GptqOptions& opt) {
  linalg::Mat H = std::move(H_given);  // ours from here: factored in place, freed on return
  HESSQ_CHECK(spec.format == formats::Format::MxFp4,
              "gptq-mx: spec '{}' is not MXFP4 (GPTQ supports INT, MXFP4 and NVFP4 weight formats)", spec.name());
  check_common(W0, H, opt, "gptq-mx");
  MxGrid grid(W0.rows());
  QuantizedWeight out;
  out.spec = spec;
  out.W_q = gptq_blocked<formats::kMxBlock>(W0, H, opt, grid, out.proxy_loss);
  return out;
}

QuantizedWeight solve_gptq_nvfp4(const MatF& W0, const linalg::Mat& H0, const formats::QuantSpec& spec,
                                 const GptqOptions& opt) {
  return solve_gptq_nvfp4(W0, linalg::Mat(H0), spec, opt);
}

QuantizedWeight solve_gptq_nvfp4(const MatF& W0, linalg::Mat&& H_given, const formats::QuantSpec& spec,
                                 const GptqOptions& opt) {
  linalg::Mat H = std::move(H_given);  // ours from here: factored in place, freed on return
  HESSQ_CHECK(spec.format == formats::Format::NvFp4 && !spec.nvfp4_ref &&
                  spec.granularity != formats::Granularity::Tile2D,
              "gptq-nvfp4: spec '{}' is not NVFP4 with 1x16 blocks (16x16 tiles and the reference mode are not "
              "supported)",
              spec.name());
  check_common(W0, H, opt, "gptq-nvfp4");
  NvGrid grid(W0.rows(), W0.cols());
  QuantizedWeight out;
  out.spec = spec;
  out.W_q = gptq_blocked<formats::kNvfp4Block>(W0, H, opt, grid, out.proxy_loss);
  out.packed = formats::nvfp4_pack_on_grid(spec, out.W_q.data(), out.W_q.rows(), out.W_q.cols(), grid.g, grid.codes);
  return out;
}

}  // namespace hessq::methods
