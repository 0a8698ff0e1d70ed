#include "hessq/pipeline/rank_alloc.hpp"

#include <cmath>
#include <set>

#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/smoothquant.hpp"
#include "hessq/model/act_quant_linear.hpp"

namespace hessq::pipeline {

using methods::MatF;

std::vector<int> rank_grid(int r0, int64_t limit) {
  static constexpr double kFactors[] = {0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0};
  std::set<int> g = {0};
  for (double f : kFactors) {
    const int r = static_cast<int>(std::lround(r0 * f));
    if (r < limit) g.insert(r);
  }
  return {g.begin(), g.end()};
}

methods::RankCurve rank_curve(const MatF& W, const std::optional<methods::VecF>& s, const methods::Metric* metric,
                              const MatF& X, const Recipe& r, const std::vector<int>& grid) {
  MatF X_s = X;
  if (s)
    for (Eigen::Index t = 0; t < X.rows(); ++t)
      for (Eigen::Index j = 0; j < X.cols(); ++j) X_s(t, j) = X(t, j) / (*s)[j];
  const MatF W_s = s ? methods::smooth_weight(W, *s) : W;
  MatF Qx = X_s;
  if (r.act) model::quantize_activations(*r.act, X_s.data(), X_s.rows(), X_s.cols(), Qx.data());
  const MatF Y = methods::matmul_nt(X, W);
  const BranchParams& bp = r.branch()->branch;
  methods::ArhqOptions ao;
  ao.rank = grid.back();
  ao.eps = bp.eps;
  ao.eps_relative = !bp.eps_abs;
  const methods::Metric identity = methods::identity_metric(W.cols());
  const methods::ArhqResult full = methods::solve_lowrank(W_s, metric ? *metric : identity, ao);
  methods::RankCurve rc;
  rc.cost_per_rank = W.rows() + W.cols();
  for (int rank : grid) {
    const methods::ArhqResult t = methods::truncate_rank(full, W_s, rank);
    MatF Y_hat = methods::matmul_nt(Qx, methods::fake_quant_padded(r.weight_spec(), t.W_res));
    if (rank > 0) Y_hat += methods::matmul_nt(X_s * t.A, t.B);
    rc.ranks.push_back(rank);
    const methods::OutputError e = methods::output_error(Y, Y_hat);
    rc.score.push_back(e.signal > 0 ? -e.noise / e.signal : 0.0);  // -relative output noise
  }
  return rc;
}

}  // namespace hessq::pipeline
