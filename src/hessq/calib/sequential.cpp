#include "hessq/calib/sequential.hpp"

#include <algorithm>

#include "hessq/core/error.hpp"
#include "hessq/model/transformer.hpp"

namespace hessq::calib {

// The linear whose hook call stands for its group (the group's other members see the same input).
static bool is_representative(model::Proj p) {
  return p == model::Proj::Q || p == model::Proj::O || p == model::Proj::Gate || p == model::Proj::Down;
}

BlockStats collect_block_stats(const model::Model& m, int layer, const std::vector<std::vector<int>>& windows,
                               const BlockStatsOptions& opt) {
  const model::ModelConfig& c = m.cfg;
  HESSQ_CHECK(layer >= 0 && layer < c.n_layers, "block {} out of range [0, {})", layer, c.n_layers);
  HESSQ_CHECK(!windows.empty(), "no calibration windows");
  std::array<int64_t, 4> width{};
  for (InputKind k : kAllInputs) width[input_index(k)] = input_features(c, k);
  BlockStats bs;
  for (int g = 0; g < 4; ++g) {
    bs.all[g] = Stats(width[g]);
    if (opt.halves) bs.half_a[g] = bs.half_b[g] = Stats(width[g]);
  }
  size_t longest = 0;
  for (const auto& w : windows) longest = std::max(longest, w.size());
  model::Transformer tr(m, static_cast<int>(longest));
  tr.set_stop_after(layer);
  const size_t half = windows.size() / 2;
  size_t current = 0;
  tr.set_hook([&](const model::LinearId& id, const float* x, int n_tokens) {
    if (id.layer != layer || !is_representative(id.proj)) return;
    const int g = input_index(input_of(id.proj));
    bs.all[g].add(x, n_tokens, width[g]);
    if (opt.halves) (current < half ? bs.half_a[g] : bs.half_b[g]).add(x, n_tokens, width[g]);
    if (opt.keep_inputs) bs.inputs[g].insert(bs.inputs[g].end(), x, x + static_cast<size_t>(n_tokens) * width[g]);
  });
  for (current = 0; current < windows.size(); ++current) {
    tr.reset();
    tr.forward(windows[current].data(), static_cast<int>(windows[current].size()), false);
  }
  return bs;
}

}  // namespace hessq::calib
