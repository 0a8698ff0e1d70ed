#include "hessq/pipeline/solve_linear.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/core/timer.hpp"
#include "hessq/kernels/gemm_f32.hpp"
#include "hessq/methods/arhq_refine.hpp"
#include "hessq/methods/awq.hpp"
#include "hessq/methods/gptq.hpp"
#include "hessq/methods/ggml_solvers.hpp"
#include "hessq/methods/gptq_mx.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/lowrank_storage.hpp"
#include "hessq/methods/rtn.hpp"
#include "hessq/methods/smoothquant.hpp"
#include "hessq/model/act_quant_linear.hpp"
#include "hessq/pipeline/matrix_util.hpp"

namespace hessq::pipeline {

using json = nlohmann::ordered_json;
using methods::MatF;
using methods::VecF;

namespace {

MatF divide_columns(const MatF& X, const VecF& s) {  // X diag(s)^-1, the division the layer performs
  MatF out(X.rows(), X.cols());
  for (Eigen::Index t = 0; t < X.rows(); ++t)
    for (Eigen::Index j = 0; j < X.cols(); ++j) out(t, j) = X(t, j) / s[j];
  return out;
}

linalg::Mat smooth_hessian(const linalg::Mat& H, const VecF& s) {  // the second moment of X / s
  const linalg::Vec inv = s.cast<double>().cwiseInverse();
  return inv.asDiagonal() * H * inv.asDiagonal();
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

// ||X (W_q - W)^T||^2 / ||X W^T||^2 on rows X: the relative output error on those tokens.
double relative_error_on_rows(const MatF& X, const MatF& W, const MatF& W_q) {
  const MatF Y = methods::matmul_nt(X, W);
  const double signal = Y.cast<double>().squaredNorm();
  return signal > 0 ? (methods::matmul_nt(X, W_q).cast<double>() - Y.cast<double>()).squaredNorm() / signal : 0.0;
}

// GPTQ on the weight format's grid; H is copied (const) or taken over and factored in place (rvalue).
template <class HArg>
methods::QuantizedWeight run_gptq(const Pass& s, const MatF& W_in, HArg&& H) {
  const formats::QuantSpec& spec = s.spec;
  if (spec.format == formats::Format::MxFp4) return methods::solve_gptq_mx(W_in, std::forward<HArg>(H), spec, s.gptq);
  if (spec.format == formats::Format::NvFp4) return methods::solve_gptq_nvfp4(W_in, std::forward<HArg>(H), spec, s.gptq);
  if (spec.format == formats::Format::Ggml) return methods::solve_gptq_ggml(W_in, std::forward<HArg>(H), spec, s.gptq);
  return methods::solve_gptq(W_in, std::forward<HArg>(H), spec, s.gptq);
}

// Step 3: the solver `s` (r's, with this linear's spec) on the (padded) weight, dispatching on the
// solver and the weight format.
methods::QuantizedWeight run_solver(const Recipe& r, const Pass& s, const MatF& W_in, const linalg::Mat& H) {
  const formats::QuantSpec& spec = s.spec;
  if (s.name == "gptq") return run_gptq(s, W_in, H);
  if (spec.format == formats::Format::Ggml) return methods::solve_rtn_ggml(W_in, spec, &H, s.rtn_importance);
  const Pass* awq = r.find("awq");
  if (awq && awq->awq.clip_search)  // AWQ's clip search replaces plain rounding (W is already scaled)
    return methods::solve_awq(W_in, H, linalg::Vec::Ones(W_in.cols()), spec, awq->awq);
  return methods::solve_rtn(W_in, spec, &H);
}

// A linear the recipe keeps float: its weight rounded to F16 (as GGUF stores it), and the loss of that.
LinearSolution keep_float(const LinearProblem& p, const Recipe& r) {
  HESSQ_CHECK(!r.act && !p.s && p.rank == 0, "{}: a linear kept float cannot take activation quantization, smoothing "
              "or a low-rank branch", p.name);
  const MatF& W = *p.W;
  const MatF& W_ref = p.W_ref ? *p.W_ref : W;
  MatF W_h(W.rows(), W.cols());
  for (Eigen::Index i = 0; i < W.size(); ++i) W_h.data()[i] = f16_to_f32(f32_to_f16(W.data()[i]));
  LinearSolution out;
  json& d = out.diag;
  const double signal = methods::quadratic_trace(W_ref, *p.H);
  d["solver"] = "none";
  d["format"] = "f16";
  d["loss"] = methods::proxy_loss(W, W_h, *p.H);
  d["loss_vs_float"] = methods::proxy_loss(W_ref, W_h, *p.H);
  d["loss_rel"] = signal > 0 ? d["loss_vs_float"].get<double>() / signal : 0.0;
  d["rank"] = 0;
  d["params"] = W.rows() * W.cols();
  d["extra_params"] = 0;
  d["extra_params_pct"] = 0.0;
  d["bits_per_weight"] = 16.0;
  out.linear = std::make_shared<model::DenseLinear>(to_tensor(W_h), p.bias);
  return out;
}

}  // namespace

LinearSolution solve_linear(const LinearProblem& p, const Recipe& r) {
  const kernels::SerialBlas serial;  // every solver's BLAS calls on one thread (kernels/gemm_f32.hpp)
  HESSQ_CHECK(p.W != nullptr && p.H != nullptr, "{}: missing weight or statistics", p.name);
  const MatF& W = *p.W;
  const MatF& W_ref = p.W_ref ? *p.W_ref : W;
  const int64_t m = W.rows(), n = W.cols();
  HESSQ_CHECK(p.H->rows() == n, "{}: H is [{}, {}], the weight has {} inputs", p.name, p.H->rows(), p.H->cols(), n);
  HESSQ_CHECK(p.rank >= 0 && p.rank <= std::min(m, n),
              "{}: rank {} is too large for a [{}, {}] weight (a rank-r branch needs r <= min(m, n) = {})", p.name,
              p.rank, m, n, std::min(m, n));
  const Pass* bpass = r.branch();
  const bool branch = bpass != nullptr && p.rank > 0;
  LinearSolution out;
  json& d = out.diag;
  const std::optional<Pass> solver_of_linear = r.solver_for(p.layer, p.proj);
  if (!solver_of_linear) return keep_float(p, r);
  const Pass& solver = *solver_of_linear;

  // Step 1: the smoothed weight W diag(s). Copies are made only where a step changes the weight (the
  // weights of a 8B model's MLP are 235 MB each).
  std::optional<MatF> W_s_store, W_res_store;
  if (p.s) W_s_store = methods::smooth_weight(W, *p.s);
  const MatF& W_s = p.s ? *W_s_store : W;

  // Step 2: the branch and the residual weight.
  auto t0 = Clock::now();
  MatF A, B;
  if (branch) {
    const BranchParams& bp = bpass->branch;
    methods::ArhqOptions ao;
    ao.rank = p.rank;
    ao.eps = bp.eps;
    ao.eps_relative = !bp.eps_abs;
    ao.svd = bp.rsvd ? methods::SvdKind::Randomized : methods::SvdKind::Exact;
    const methods::Metric identity = methods::identity_metric(n);
    methods::ArhqResult res = with_context(p.name + ": " + bpass->name, [&] {
      return methods::solve_lowrank(W_s, p.metric ? *p.metric : identity, ao);
    });
    d["sigma_max"] = res.S.size() ? res.S[0] : 0.0;
    d["sigma_min"] = res.S.size() ? res.S[res.S.size() - 1] : 0.0;
    if (p.metric) d["clamped"] = res.clamped;
    if (bp.refine > 0) {
      HESSQ_CHECK(p.sample && p.sample->rows() > 0, "{}: the refinement needs sampled calibration tokens", p.name);
      const MatF X = methods::strided_rows(p.s ? divide_columns(*p.sample, *p.s) : *p.sample, bp.refine_tokens);
      methods::RefineOptions ro;
      ro.iters = bp.refine;
      ro.lowrank = ao;
      const methods::RefineResult rr =
          methods::refine_arhq(W_s, X, methods::LayerFormat{r.format_name, r.weight_spec(), *r.act}, res, ro);
      d["refine"] = {{"iters", bp.refine}, {"best_iter", rr.best_iter}, {"cal_noise", rr.cal_noise}, {"tokens", X.rows()}};
      res = rr.best;
    }
    A = std::move(res.A);
    B = std::move(res.B);
    const methods::LowRankStorage storage =
        bp.dtype == "f32" ? methods::LowRankStorage::F32 : methods::LowRankStorage::F16;
    methods::prepare_lowrank_storage(A, B, storage, p.name);
    W_res_store = methods::lowrank_residual(W_s, A, B);
  }
  const MatF& W_res = branch ? *W_res_store : W_s;
  // The float layer in the smoothed space and its output energy tr(W H W^T), taken before the solver
  // may consume H.
  std::optional<MatF> W_ref_s_store;
  if (p.s) W_ref_s_store = methods::smooth_weight(W_ref, *p.s);
  const MatF& W_ref_s = p.s ? *W_ref_s_store : W_ref;
  out.branch_s = seconds_since(t0);

  // Step 3: Q_w(W_res), zero-padded to the weight's group.
  t0 = Clock::now();
  const int64_t np = solver_input_dim(solver, n, p.name);
  const linalg::Mat H_s = p.s ? smooth_hessian(*p.H, *p.s) : linalg::Mat();
  const linalg::Mat& H = p.s ? H_s : *p.H;
  const double signal = methods::quadratic_trace(W_ref_s, H);
  // GPTQ may take H over when this is its last reader and no diagnostic needs H afterwards: the
  // solver's own proxy loss tr((W_q - W_res) H (W_q - W_res)^T) is then the loss (against the float
  // layer too, as W_ref = W), and with a branch W_eff - W_s = W_q - W_res up to the rounding of W_res.
  const bool take_H = p.H_last_reader != nullptr && !p.s && np == n && &W_ref == &W && solver.name == "gptq";
  std::shared_ptr<model::QuantizedLinear> residual;
  double solver_loss = 0;
  {
    std::optional<MatF> W_in_store;
    if (np != n) W_in_store = pad_cols(W_res, np);
    const MatF& W_in = np != n ? *W_in_store : W_res;
    const methods::QuantizedWeight qw = with_context("solving " + p.name, [&] {
      if (take_H) return run_gptq(solver, W_in, std::move(*p.H_last_reader));
      return np == n ? run_solver(r, solver, W_in, H) : run_solver(r, solver, W_in, pad_sym(H, np));
    });
    solver_loss = qw.proxy_loss;
    HESSQ_CHECK(qw.W_q.rows() == m && qw.W_q.cols() == np, "{}: the solver returned [{}, {}], expected [{}, {}]",
                p.name, qw.W_q.rows(), qw.W_q.cols(), m, np);
    // GPTQ on MXFP4 has no per-group parameters: its W_q (a fixed point of the MXFP4 quantizer, see
    // methods/gptq_mx.hpp) is what gets packed, not the weight it started from; on NVFP4 it packed itself.
    const bool pack_result = solver.name == "gptq" && qw.int_params.empty();
    // The bias belongs to the residual weight (an ActQuantLinear adds it once, through it).
    residual = model::make_quantized_linear(qw.spec, pack_result ? qw.W_q.data() : W_in.data(), qw.W_q.data(),
                                            qw.int_params, m, np, n, p.bias, p.name, qw.packed ? &*qw.packed : nullptr);
  }
  out.solve_s = seconds_since(t0);

  // Step 4: the layer.
  const bool plain = !r.act && !p.s && !branch;
  if (plain) {
    out.linear = residual;
  } else {
    std::optional<model::LowRankBranch> lr;
    if (branch) lr = model::LowRankBranch{to_tensor(A), to_tensor(B), bpass->branch.dtype == "f32" ? "F32" : "F16"};
    std::optional<Tensor> s_t;
    if (p.s) s_t = vec_tensor(*p.s);
    out.linear = std::make_shared<model::ActQuantLinear>(residual, r.act, std::move(s_t), std::move(lr), p.name);
  }

  // Diagnostics. W_eff: what the layer computes without Q_x, in the smoothed space.
  t0 = Clock::now();
  // (The solver's peak buffers are gone by now, so the copies below do not raise the peak.)
  const MatF W_q = Eigen::Map<const MatF>(residual->dequantized().ptr(), m, n);
  std::optional<MatF> W_eff_store;
  if (branch) W_eff_store = W_q + B * A.transpose();
  const MatF& W_eff = branch ? *W_eff_store : W_q;
  d["solver"] = solver.name;
  d["format"] = residual->spec().name();
  if (r.act) d["act_format"] = r.act->name();
  // RTN's own proxy loss is proxy_loss(W_in, W_q, H): for a plain unpadded layer W_in = W_s and W_q =
  // W_eff (make_quantized_linear checked it bit for bit), so it is this very call, already made (each
  // costs an m x n x n GEMM in double: at 7B shapes the largest share of an RTN run).
  const bool solver_loss_is_loss = take_H || (solver.name == "rtn" && plain && np == n);
  d["loss"] = solver_loss_is_loss ? solver_loss : methods::proxy_loss(W_s, W_eff, H);
  d["loss_vs_float"] = take_H || (&W_ref == &W && !branch) ? d["loss"].get<double>() : methods::proxy_loss(W_ref_s, W_eff, H);
  d["loss_rel"] = signal > 0 ? d["loss_vs_float"].get<double>() / signal : 0.0;
  if (p.heldout && p.heldout->rows() > 0)
    d["loss_rel_heldout"] = relative_error_on_rows(p.s ? divide_columns(*p.heldout, *p.s) : *p.heldout, W_ref_s, W_eff);
  if (branch) {
    d["lowrank"] = bpass->name;
    d["residual_loss"] = take_H ? solver_loss : methods::proxy_loss(W_res, W_q, H);  // tr(dW H dW^T) of W_res
  }
  d["rank"] = branch ? p.rank : 0;
  d["params"] = m * n;
  if (auto* a = dynamic_cast<const model::ActQuantLinear*>(out.linear.get())) {
    d["extra_params"] = a->extra_params();
    d["extra_params_pct"] = 100.0 * static_cast<double>(a->extra_params()) / static_cast<double>(m * n);
    d["bits_per_weight"] = a->bits_per_weight();
  } else {
    d["extra_params"] = 0;
    d["extra_params_pct"] = 0.0;
    d["bits_per_weight"] = residual->bits_per_weight();
  }
  if (np != n) d["padded_in"] = np;
  if (!plain && p.sample && p.sample->rows() > 0) {
    // Calibration-sample SNR of this layer vs the plain quantized layer Q_x(X) Q_w(W)^T.
    const MatF& X = *p.sample;
    MatF Y = methods::matmul_nt(X, W);
    if (p.bias)
      for (Eigen::Index t = 0; t < Y.rows(); ++t)
        for (Eigen::Index i = 0; i < Y.cols(); ++i) Y(t, i) += p.bias->ptr()[i];
    MatF Y_hat(X.rows(), m);
    out.linear->forward(X.data(), static_cast<int>(X.rows()), Y_hat.data());
    d["snr_db"] = snr_of(Y, Y_hat);
    MatF Xq = X;
    if (r.act) model::quantize_activations(*r.act, X.data(), X.rows(), X.cols(), Xq.data());
    d["snr_rtn_db"] = snr_of(methods::matmul_nt(X, W), methods::matmul_nt(Xq, methods::fake_quant_padded(solver.spec, W)));
    d["snr_tokens"] = X.rows();
  }
  out.diag_s = seconds_since(t0);
  return out;
}

}  // namespace hessq::pipeline
