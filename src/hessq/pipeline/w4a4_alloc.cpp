#include "hessq/pipeline/w4a4_alloc.hpp"

#include <cmath>
#include <set>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/methods/layer_quant.hpp"
#include "hessq/methods/rank_allocation.hpp"
#include "hessq/methods/smoothquant.hpp"
#include "hessq/calib/sequential.hpp"
#include "hessq/pipeline/w4a4_block.hpp"
#include "hessq/pipeline/w4a4_linear.hpp"
#include "hessq/runtime/act_quant_linear.hpp"

namespace hessq::pipeline {

using json = nlohmann::ordered_json;
using methods::MatF;

std::vector<int> w4a4_rank_grid(int r0, int64_t limit) {
  static constexpr double kFactors[] = {0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0};
  std::set<int> g = {0};
  for (double f : kFactors) {
    const int r = static_cast<int>(std::lround(r0 * f));
    if (r < limit) g.insert(r);
  }
  return {g.begin(), g.end()};
}

std::vector<std::array<int, 7>> allocate_w4a4_ranks(const model::Model& float_model, const calib::Windows& windows,
                                                    const W4a4Config& c, json& report) {
  const model::ModelConfig& cfg = float_model.cfg;
  struct Member {
    int layer;
    model::Proj proj;
    std::vector<int> grid;
  };
  std::vector<Member> members;
  std::vector<methods::RankCurve> curves;
  int64_t budget = 0;
  for (int layer = 0; layer < cfg.n_layers; ++layer) {
    std::array<int, 7> top{};
    std::array<std::vector<int>, 7> grids;
    for (model::Proj p : model::kAllProjs) {
      const model::Linear& lin = float_model.layers[layer].linear(p);
      grids[static_cast<int>(p)] = w4a4_rank_grid(c.rank, std::min(lin.out_features(), lin.in_features()));
      top[static_cast<int>(p)] = grids[static_cast<int>(p)].back();
    }
    const BlockPrep bp = with_context(fmt::format("rank allocation, block {}", layer), [&] {
      return prepare_w4a4_block(float_model, float_model, layer, windows, c, top);
    });
    for (model::Proj p : model::kAllProjs) {
      const int pi = static_cast<int>(p);
      const MatF& W = bp.W[pi];
      const MatF& X = bp.X_sample[calib::input_index(calib::input_of(p))];
      HESSQ_CHECK(X.rows() > 0, "rank allocation needs sampled calibration tokens (diag_tokens > 0)");
      const MatF X_s = bp.s[pi] ? divide_columns(X, *bp.s[pi]) : X;
      const MatF W_s = bp.s[pi] ? methods::smooth_weight(W, *bp.s[pi]) : W;
      MatF Qx(X_s.rows(), X_s.cols());
      runtime::quantize_activations(c.format.x, X_s.data(), X_s.rows(), X_s.cols(), Qx.data());
      const MatF Y = methods::matmul_nt(X, W);
      methods::ArhqOptions ao;
      ao.rank = top[pi];
      ao.eps = c.eps;
      ao.eps_relative = c.eps_relative;
      const methods::Metric identity = methods::identity_metric(W.cols());
      const methods::ArhqResult full = methods::solve_lowrank(W_s, bp.metric[pi] ? *bp.metric[pi] : identity, ao);
      methods::RankCurve rc;
      rc.cost_per_rank = W.rows() + W.cols();
      for (int r : grids[pi]) {
        const methods::ArhqResult s = methods::truncate_rank(full, W_s, r);
        MatF Y_hat = methods::matmul_nt(Qx, methods::fake_quant_padded(c.format.w, s.W_res));
        if (r > 0) Y_hat += methods::matmul_nt(X_s * s.A, s.B);
        rc.ranks.push_back(r);
        const methods::OutputError e = methods::output_error(Y, Y_hat);
        rc.score.push_back(e.signal > 0 ? -e.noise / e.signal : 0.0);  // -relative output noise
      }
      members.push_back({layer, p, grids[pi]});
      curves.push_back(std::move(rc));
      budget += static_cast<int64_t>(c.rank) * (W.rows() + W.cols());
    }
  }
  const methods::RankAllocation a = methods::allocate_ranks(curves, budget);
  std::vector<std::array<int, 7>> ranks(cfg.n_layers);
  json chosen = json::object();
  for (size_t i = 0; i < members.size(); ++i) {
    ranks[members[i].layer][static_cast<int>(members[i].proj)] = a.ranks[i];
    chosen[io::linear_tensor_prefix(members[i].layer, members[i].proj)] = a.ranks[i];
  }
  report = {{"budget_rank", c.rank}, {"budget_params", a.budget}, {"used_params", a.used},
            {"grid_factors", {0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4}}, {"score", "-||Y_hat - Y||^2 / ||Y||^2 (calibration sample)"}, {"inputs", "float model (rotated when rotating)"},
            {"ranks", chosen}};
  spdlog::info("rank allocation: {} of {} budget parameters used over {} linears", a.used, a.budget, members.size());
  return ranks;
}

}  // namespace hessq::pipeline
