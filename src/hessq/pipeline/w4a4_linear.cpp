#include "hessq/pipeline/matrix_util.hpp"
#include "hessq/core/timer.hpp"
#include "hessq/pipeline/w4a4_linear.hpp"

#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "hessq/core/error.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/gptq_mx.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/lowrank_storage.hpp"
#include "hessq/methods/rtn.hpp"
#include "hessq/methods/smoothquant.hpp"
#include "hessq/pipeline/block_quant.hpp"

namespace hessq::pipeline {

using methods::MatF;
using methods::VecF;
using json = nlohmann::ordered_json;

namespace {

MatF quantize_rows(const formats::QuantSpec& x, const MatF& X) {
  MatF out(X.rows(), X.cols());
  runtime::quantize_activations(x, X.data(), X.rows(), X.cols(), out.data());
  return out;
}

Tensor vec_tensor(const VecF& v) {
  Tensor t = Tensor::zeros({v.size()});
  for (Eigen::Index j = 0; j < v.size(); ++j) t.ptr()[j] = v[j];
  return t;
}

double snr_of(const MatF& Y, const MatF& Y_hat) {
  const double noise = (Y_hat.cast<double>() - Y.cast<double>()).squaredNorm();
  if (noise == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(Y.cast<double>().squaredNorm() / noise);
}

}  // namespace

MatF divide_columns(const MatF& X, const VecF& s) {
  MatF out(X.rows(), X.cols());
  for (Eigen::Index t = 0; t < X.rows(); ++t)
    for (Eigen::Index j = 0; j < X.cols(); ++j) out(t, j) = X(t, j) / s[j];
  return out;
}

linalg::Mat smooth_hessian(const linalg::Mat& H, const VecF& s) {
  const linalg::Vec inv = s.cast<double>().cwiseInverse();
  return inv.asDiagonal() * H * inv.asDiagonal();
}

SmoothChoice search_smoothing_w4a4(const MatF& W, const linalg::Vec& absmax, const MatF& X_sample,
                                   const W4a4Config& c) {
  HESSQ_CHECK(X_sample.rows() > 0, "smoothing: no sampled calibration tokens");
  methods::SmoothOptions so;
  so.min_stat = so.min_scale = c.smooth_min;
  const VecF amax = absmax.cast<float>();
  const MatF Y = methods::matmul_nt(X_sample, W);
  SmoothChoice best;
  double best_mse = std::numeric_limits<double>::infinity();
  for (double alpha : c.alpha_grid) {
    const VecF s = methods::smooth_scales(W, amax, alpha, so);
    const MatF Y_hat = methods::matmul_nt(quantize_rows(c.format.x, divide_columns(X_sample, s)),
                                          methods::fake_quant_padded(c.format.w, methods::smooth_weight(W, s)));
    const double mse = (Y_hat.cast<double>() - Y.cast<double>()).squaredNorm() / static_cast<double>(Y.size());
    best.mse.push_back(mse);
    if (mse < best_mse) {  // strict: ties keep the smaller alpha
      best_mse = mse;
      best.alpha = alpha;
      best.s = s;
    }
  }
  HESSQ_CHECK(best.s.size() == W.cols(), "smoothing: no alpha gave a finite output error");
  return best;
}

double layer_snr_db(const model::Linear& layer, const MatF& W, const std::optional<Tensor>& bias, const MatF& X) {
  MatF Y = methods::matmul_nt(X, W);
  if (bias)
    for (Eigen::Index t = 0; t < Y.rows(); ++t)
      for (Eigen::Index i = 0; i < Y.cols(); ++i) Y(t, i) += bias->ptr()[i];
  MatF Y_hat(X.rows(), W.rows());
  layer.forward(X.data(), static_cast<int>(X.rows()), Y_hat.data());
  return snr_of(Y, Y_hat);
}

LinearSolution solve_w4a4_linear(const LinearProblem& p, const W4a4Config& c) {
  HESSQ_CHECK(p.W != nullptr && p.H != nullptr, "{}: missing weight or statistics", p.name);
  const MatF& W = *p.W;
  const int64_t m = W.rows(), n = W.cols();
  HESSQ_CHECK(p.H->rows() == n, "{}: H is [{}, {}], the weight has {} inputs", p.name, p.H->rows(), p.H->cols(), n);
  HESSQ_CHECK(p.rank >= 0 && p.rank <= std::min(m, n),
              "{}: rank {} is too large for a [{}, {}] weight (a rank-r branch needs r <= min(m, n) = {})", p.name,
              p.rank, m, n, std::min(m, n));
  LinearSolution out;
  json& d = out.diag;

  // Step 1: the smoothed weight W diag(s).
  const MatF W_s = p.s ? methods::smooth_weight(W, *p.s) : W;

  // Step 2: the low-rank branch and the residual weight.
  auto t0 = Clock::now();
  MatF A, B, W_res = W_s;
  const bool branch = c.lowrank != LowRankMethod::None && p.rank > 0;
  if (branch) {
    methods::ArhqOptions ao;
    ao.rank = p.rank;
    ao.eps = c.eps;
    ao.eps_relative = c.eps_relative;
    const methods::Metric identity = methods::identity_metric(n);
    const methods::ArhqResult r = methods::solve_lowrank(W_s, p.metric ? *p.metric : identity, ao);
    A = r.A;
    B = r.B;
    methods::prepare_lowrank_storage(A, B, c.lowrank_storage, p.name);
    W_res = methods::lowrank_residual(W_s, A, B);
    d["sigma_max"] = r.S.size() ? r.S[0] : 0.0;
    d["sigma_min"] = r.S.size() ? r.S[r.S.size() - 1] : 0.0;
    if (p.metric) d["clamped"] = r.clamped;
  }
  out.lowrank_s = seconds_since(t0);

  // Step 3: Q_w(W_res), zero-padded to the weight's group.
  t0 = Clock::now();
  Pass solver;
  solver.name = c.solver;
  solver.spec = c.format.w;
  solver.pad = c.pad;
  const int64_t np = solver_input_dim(solver, n, p.name);
  const MatF W_in = pad_cols(W_res, np);
  const linalg::Mat Hp = pad_sym(*p.H, np);
  const methods::QuantizedWeight qw = with_context("solving " + p.name, [&] {
    if (c.solver != "gptq") return methods::solve_rtn(W_in, c.format.w, &Hp);
    if (c.format.w.format == formats::Format::MxFp4) return methods::solve_gptq_mx(W_in, Hp, c.format.w, c.gptq);
    if (c.format.w.format == formats::Format::NvFp4) return methods::solve_gptq_nvfp4(W_in, Hp, c.format.w, c.gptq);
    return methods::solve_gptq(W_in, Hp, c.format.w, c.gptq);
  });
  // GPTQ on MXFP4 has no per-group parameters: its W_q (a fixed point of the MXFP4 quantizer, see
  // methods/gptq_mx.hpp) is what gets packed, not the weight it started from; on NVFP4 it packed itself.
  const bool pack_result = c.solver == "gptq" && qw.int_params.empty();
  auto residual = runtime::make_quantized_linear(qw.spec, pack_result ? qw.W_q.data() : W_in.data(), qw.W_q.data(),
                                                 qw.int_params, m, np, n, p.bias, p.name,
                                                 qw.packed ? &*qw.packed : nullptr);
  out.residual_s = seconds_since(t0);

  // Step 4: the run-time layer.
  std::optional<runtime::LowRankBranch> lr;
  if (branch)
    lr = runtime::LowRankBranch{to_tensor(A), to_tensor(B), methods::lowrank_storage_name(c.lowrank_storage)};
  out.linear = std::make_shared<runtime::ActQuantLinear>(
      residual, c.format.x, p.s ? std::optional<Tensor>(vec_tensor(*p.s)) : std::nullopt, std::move(lr), p.name);

  const MatF W_q = Eigen::Map<const MatF>(residual->weight().ptr(), m, n);
  d["solver"] = c.solver;
  d["format"] = c.format.w.name();
  d["act_format"] = c.format.x.name();
  d["lowrank"] = lowrank_method_name(c.lowrank);
  d["rank"] = branch ? p.rank : 0;
  d["extra_params"] = out.linear->extra_params();
  d["extra_params_pct"] = 100.0 * static_cast<double>(out.linear->extra_params()) / static_cast<double>(m * n);
  d["bits_per_weight"] = out.linear->bits_per_weight();
  d["residual_loss"] = methods::proxy_loss(W_res, W_q, *p.H);  // tr(dW H dW^T) of the residual weight
  if (np != n) d["padded_in"] = np;
  t0 = Clock::now();
  if (p.X_sample && p.X_sample->rows() > 0) {
    // Diagnostic: calibration-sample SNR of this layer vs the plain W4A4 layer Q_x(X) Q_w(W)^T.
    d["snr_db"] = layer_snr_db(*out.linear, W, p.bias, *p.X_sample);
    MatF Y = methods::matmul_nt(*p.X_sample, W);
    const MatF Y_rtn =
        methods::matmul_nt(quantize_rows(c.format.x, *p.X_sample), methods::fake_quant_padded(c.format.w, W));
    d["snr_rtn_db"] = snr_of(Y, Y_rtn);
    d["snr_tokens"] = p.X_sample->rows();
  }
  out.diag_s = seconds_since(t0);
  return out;
}

}  // namespace hessq::pipeline
