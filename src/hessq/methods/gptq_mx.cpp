#include "hessq/methods/gptq_mx.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/formats/fp4.hpp"
#include "hessq/formats/mx.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods {

QuantizedWeight solve_gptq_mx(const MatF& W0, const linalg::Mat& H0, const formats::QuantSpec& spec,
                              const GptqOptions& opt) {
  HESSQ_CHECK(spec.format == formats::Format::MxFp4,
              "gptq-mx: spec '{}' is not MXFP4 (GPTQ supports INT and MXFP4 weight formats)", spec.name());
  HESSQ_CHECK(!opt.act_order, "gptq-mx: act_order is not supported for MXFP4 (blocks of 32 must be entered in order)");
  HESSQ_CHECK(opt.damp >= 0 && opt.block >= 1, "gptq-mx: damp {} / block {} out of range", opt.damp, opt.block);
  check_weight(W0, "gptq-mx");
  const int64_t m = W0.rows(), n = W0.cols();
  check_hessian(H0, n, "gptq-mx");
  constexpr int64_t kB = formats::kMxBlock;
  constexpr int kEmax = 2;  // E2M1's largest exponent: scale 2^(floor(log2 amax) - 2)

  // Steps 1-3.
  MatF W = W0;
  linalg::Mat H = H0;
  for (int64_t j = 0; j < n; ++j)
    if (H(j, j) == 0) {
      H(j, j) = 1;
      W.col(j).setZero();
    }
  H.diagonal().array() += opt.damp * H.diagonal().mean();
  const MatF U = linalg::cholesky_upper(linalg::spd_inverse(H)).cast<float>();

  // Steps 4-5.
  const int64_t block = (opt.block + kB - 1) / kB * kB;
  MatF Q = MatF::Zero(m, n);
  std::vector<float> scale(m), inv(m);
  for (int64_t i1 = 0; i1 < n; i1 += block) {
    const int64_t i2 = std::min(i1 + block, n), count = i2 - i1;
    MatF W1 = W.middleCols(i1, count);
    MatF Err1 = MatF::Zero(m, count);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i1 + i;
      if (j % kB == 0) {  // entering an MX block: scales from the block's current values
        const int64_t c1 = std::min(i + kB, count);
        for (int64_t r = 0; r < m; ++r) {
          float amax = 0.0f;
          for (int64_t c = i; c < c1; ++c) amax = std::max(amax, std::fabs(W1(r, c)));
          const uint8_t byte = formats::mx_scale_byte(amax, kEmax);
          scale[r] = formats::mx_scale_value(byte);
          inv[r] = std::ldexp(1.0f, 127 - byte);
        }
      }
      const float d = U(j, j);
      for (int64_t r = 0; r < m; ++r) {
        const float w = W1(r, i);
        const float q = formats::e2m1_decode(formats::e2m1_encode(w * inv[r])) * scale[r];
        Q(r, j) = q;
        Err1(r, i) = (w - q) / d;
      }
      if (i + 1 < count)
        W1.rightCols(count - i - 1).noalias() -= Err1.col(i) * U.row(j).segment(j + 1, count - i - 1);
    }
    if (i2 < n) W.rightCols(n - i2).noalias() -= Err1 * U.block(i1, i2, count, n - i2);
  }

  QuantizedWeight out;
  out.spec = spec;
  out.W_q = std::move(Q);
  out.proxy_loss = proxy_loss(W0, out.W_q, H0);
  return out;
}

}  // namespace hessq::methods
