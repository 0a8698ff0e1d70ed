#include "hessq/methods/arhq_refine.hpp"

#include <chrono>

#include "hessq/core/error.hpp"

namespace hessq::methods {

RefineResult refine_arhq(const MatF& W, const MatF& X_calib, const LayerFormat& f, const ArhqResult& init,
                         const RefineOptions& opt) {
  HESSQ_CHECK(opt.iters >= 0, "ARHQ refinement: iterations must be >= 0, got {}", opt.iters);
  HESSQ_CHECK(X_calib.cols() == W.cols(), "ARHQ refinement: activations have {} channels, the weight has {} inputs",
              X_calib.cols(), W.cols());
  const auto t0 = std::chrono::steady_clock::now();
  const int r = static_cast<int>(init.A.cols());
  const double N = static_cast<double>(X_calib.rows());
  // Step 1: fixed quantities: Y, Q_x(X), H = X^T X / N (clamped metric), K = C H^-1.
  const MatF Y = matmul_nt(X_calib, W);
  const MatF Qx = fake_quant_padded(f.x, X_calib);
  const Metric H = make_metric(second_moment(X_calib), opt.lowrank.eps, opt.lowrank.eps_relative);
  const linalg::Mat Xd = X_calib.cast<double>();
  const linalg::Mat C = (X_calib - Qx).cast<double>().transpose() * Xd / N;
  const linalg::Mat K = ((C * H.U) * H.l.cwiseInverse().asDiagonal()) * H.U.transpose();
  // D(L) on the calibration tokens.
  auto noise = [&](const ArhqResult& s) {
    MatF Y_hat = matmul_nt(Qx, fake_quant_padded(f.w, s.W_res));
    if (r > 0) Y_hat += matmul_nt(X_calib * s.A, s.B);
    return output_error(Y, Y_hat).noise;
  };
  RefineResult out;
  out.best = init;
  out.cal_noise.push_back(noise(init));
  ArhqOptions lo = opt.lowrank;
  lo.rank = r;
  ArhqResult cur = init;
  for (int k = 1; k <= opt.iters && r > 0; ++k) {
    // Step 2: R_q = Q_w(W - L_k), L_ls = (W - R_q) + R_q K.
    const linalg::Mat Rq = fake_quant_padded(f.w, cur.W_res).cast<double>();
    const linalg::Mat L_ls = W.cast<double>() - Rq + Rq * K;
    // Step 3: L_{k+1} = rank-r minimizer of tr((L - L_ls) H (L - L_ls)^T).
    ArhqResult next = solve_lowrank(L_ls.cast<float>(), H, lo);
    next.W_res = lowrank_residual(W, next.A, next.B);
    out.cal_noise.push_back(noise(next));
    if (out.cal_noise.back() < out.cal_noise[out.best_iter]) {
      out.best_iter = k;
      out.best = next;
    }
    cur = std::move(next);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.best.time = ArhqTimings{0, 0, out.seconds};
  return out;
}

}  // namespace hessq::methods
