#include "hessq/methods/awq.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "hessq/core/error.hpp"
#include "hessq/kernels/gemm_f32.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods {

using formats::IntParams;
using MatRF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

// Row-wise tr(D Hf D^T) with a float GEMM (D: [m, k] with leading dim ldD, Hf: [k, k]); per-row
// values go to `rows` when given, the sum is returned. Accumulated in double.
double trace_f(const float* D, int64_t m, int64_t k, int64_t ldD, const MatRF& Hf, double* rows = nullptr) {
  MatRF DH(m, k);
  kernels::gemm_f32_rows(false, false, m, k, k, 1.0f, D, ldD, Hf.data(), k, 0.0f, DH.data(), k);
  double t = 0;
  for (int64_t r = 0; r < m; ++r) {
    double tr = 0;
    for (int64_t j = 0; j < k; ++j) tr += static_cast<double>(DH(r, j)) * D[r * ldD + j];
    if (rows) rows[r] = tr;
    t += tr;
  }
  return t;
}

void check_scales(const linalg::Vec& s, int64_t n, const char* method) {
  HESSQ_CHECK(s.size() == n, "{}: {} scales for {} input channels", method, s.size(), n);
  for (int64_t j = 0; j < n; ++j)
    HESSQ_CHECK(std::isfinite(s[j]) && s[j] > 0, "{}: scale s[{}] = {} must be finite and > 0", method, j, s[j]);
}

// Output error of one (quantized, scaled) linear for the current s: tr(dW H dW^T),
// dW = Q_w(W diag s) diag(1/s) - W.
double scaled_loss(const MatF& W, const linalg::Vec& s, const MatRF& Hf, const formats::QuantSpec& spec) {
  const MatF Ws = apply_awq(W, s);
  MatF D(W.rows(), W.cols());
  formats::fake_quant(spec, Ws.data(), Ws.rows(), Ws.cols(), D.data());
  const Eigen::RowVectorXf inv_s = s.cwiseInverse().cast<float>().transpose();
  D = (D.array().rowwise() * inv_s.array()).matrix() - W;
  return trace_f(D.data(), D.rows(), D.cols(), D.cols(), Hf);
}

// AutoAWQ-style auto_clip on the scaled weight: per (row, group) the ratio minimizing d^T H_gg d.
QuantizedWeight clip_search(const MatF& W, const linalg::Mat& H, const formats::QuantSpec& spec,
                            const AwqOptions& opt) {
  const int64_t m = W.rows(), n = W.cols();
  const IntLayout L = int_layout(spec, n, "awq clip search");
  HESSQ_CHECK(!L.per_tensor, "awq clip search: spec '{}' is per-tensor; clip search needs per-channel or per-group",
              spec.name());
  QuantizedWeight out;
  out.spec = spec;
  out.W_q.resize(m, n);
  out.int_params.resize(m * L.groups);
  MatRF D(m, L.g);
  std::vector<IntParams> cand(m);
  std::vector<double> err(m), best(m);
  for (int64_t k = 0; k < L.groups; ++k) {
    const int64_t c0 = k * L.g;
    const MatRF Hg = H.block(c0, c0, L.g, L.g).cast<float>();
    std::fill(best.begin(), best.end(), std::numeric_limits<double>::infinity());
    for (int step = 0; step <= opt.clip_steps; ++step) {
      const float ratio = static_cast<float>(1.0 - opt.clip_max_shrink * step / opt.clip_steps);
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < m; ++r) {
        const float* x = &W(r, c0);
        cand[r] = formats::int_params(x, L.g, spec.bits, spec.symmetric, ratio);
        for (int64_t j = 0; j < L.g; ++j)
          D(r, j) = formats::int_quant_dequant(x[j], cand[r], spec.bits, spec.symmetric) - x[j];
      }
      trace_f(D.data(), m, L.g, L.g, Hg, err.data());
      for (int64_t r = 0; r < m; ++r)
        if (err[r] < best[r]) best[r] = err[r], out.int_params[r * L.groups + k] = cand[r];
    }
    for (int64_t r = 0; r < m; ++r) {
      const IntParams& p = out.int_params[r * L.groups + k];
      for (int64_t j = c0; j < c0 + L.g; ++j)
        out.W_q(r, j) = formats::int_quant_dequant(W(r, j), p, spec.bits, spec.symmetric);
    }
  }
  return out;
}

}  // namespace

linalg::Vec awq_scales(const linalg::Vec& absmean, double alpha) {
  const int64_t n = absmean.size();
  HESSQ_CHECK(absmean.allFinite() && (n == 0 || absmean.minCoeff() >= 0),
              "awq: activation absmean ({} channels) must be finite and >= 0", n);
  if (n == 0 || absmean.maxCoeff() == 0) return linalg::Vec::Ones(n);
  const linalg::Vec a = absmean.cwiseMax(kAbsmeanFloor * absmean.maxCoeff());
  linalg::Vec s = a.array().pow(alpha);
  return s / std::sqrt(s.maxCoeff() * s.minCoeff());
}

MatF apply_awq(const MatF& W, const linalg::Vec& s) {
  check_scales(s, W.cols(), "awq");
  return (W.array().rowwise() * s.cast<float>().transpose().array()).matrix();
}

linalg::Mat awq_scale_hessian(const linalg::Mat& H, const linalg::Vec& s) {
  check_scales(s, H.cols(), "awq");
  HESSQ_CHECK(H.rows() == H.cols(), "awq: H is [{}, {}], expected square", H.rows(), H.cols());
  const linalg::Vec inv = s.cwiseInverse();
  return inv.asDiagonal() * H * inv.asDiagonal();
}

AwqResult awq_search(const std::vector<const MatF*>& Ws, const calib::Stats& st,
                     const std::vector<formats::QuantSpec>& specs, const AwqOptions& opt) {
  HESSQ_CHECK(!Ws.empty(), "awq: no linears given for the input set");
  HESSQ_CHECK(specs.size() == 1 || specs.size() == Ws.size(), "awq: {} weight formats for {} linears", specs.size(),
              Ws.size());
  HESSQ_CHECK(opt.grid >= 1, "awq: grid = {} must be >= 1", opt.grid);
  for (size_t i = 0; i < Ws.size(); ++i) {
    HESSQ_CHECK(Ws[i] != nullptr, "awq: linear {} of the input set is null", i);
    check_weight(*Ws[i], "awq");
    HESSQ_CHECK(Ws[i]->cols() == st.n, "awq: linear {} of the input set has {} inputs, the statistics have {}", i,
                Ws[i]->cols(), st.n);
  }
  const linalg::Mat H = st.H();
  check_hessian(H, st.n, "awq");
  const linalg::Vec absmean = st.absmean();
  const MatRF Hf = H.cast<float>();

  AwqResult res;
  res.loss = std::numeric_limits<double>::infinity();
  for (int k = 0; k < opt.grid; ++k) {
    const double alpha = static_cast<double>(k) / opt.grid;
    const linalg::Vec s = awq_scales(absmean, alpha);
    double loss = 0;
    for (size_t i = 0; i < Ws.size(); ++i) loss += scaled_loss(*Ws[i], s, Hf, specs[specs.size() == 1 ? 0 : i]);
    res.losses.push_back(loss);
    if (k == 0) res.loss_identity = loss;
    if (loss < res.loss) res.loss = loss, res.alpha = alpha, res.s = s;
  }
  HESSQ_CHECK(std::isfinite(res.loss), "awq: the output error is not finite for any alpha (spec '{}')", specs[0].name());
  return res;
}

QuantizedWeight solve_awq(const MatF& W, const linalg::Mat& H, const linalg::Vec& s, const formats::QuantSpec& spec,
                          const AwqOptions& opt) {
  check_weight(W, "awq");
  check_hessian(H, W.cols(), "awq");
  HESSQ_CHECK(opt.clip_steps >= 1 && opt.clip_max_shrink >= 0 && opt.clip_max_shrink < 1,
              "awq: clip_steps = {} must be >= 1 and clip_max_shrink = {} in [0, 1)", opt.clip_steps,
              opt.clip_max_shrink);
  const MatF Ws = apply_awq(W, s);
  const linalg::Mat Hs = awq_scale_hessian(H, s);
  QuantizedWeight out;
  if (opt.clip_search) {
    out = clip_search(Ws, Hs, spec, opt);
  } else {
    out.spec = spec;
    out.W_q.resize(W.rows(), W.cols());
    formats::fake_quant(spec, Ws.data(), Ws.rows(), Ws.cols(), out.W_q.data());
  }
  out.proxy_loss = proxy_loss(Ws, out.W_q, Hs);
  return out;
}

}  // namespace hessq::methods
