// Block-by-block calibration statistics (the "sequential" half of the PTQ driver, after GPTQ's
// llama_sequential): run a model on the calibration windows up to block `layer` only and accumulate
// calib::Stats (in double) for that block's four distinct linear inputs. Memory is O(n^2) per input
// and independent of the number of tokens, unless the raw inputs are kept for a dump.
#pragma once
#include <array>
#include <vector>

#include "hessq/calib/capture.hpp"
#include "hessq/calib/stats.hpp"
#include "hessq/model/model.hpp"

namespace hessq::calib {

// Linears that read the same input (q/k/v; gate/up) share one Stats, indexed by InputKind.
inline int input_index(InputKind k) { return static_cast<int>(k); }

struct BlockStatsOptions {
  bool halves = false;       // also accumulate the first and second half of the windows apart
  bool keep_inputs = false;  // also keep every raw input row (for --dump; memory grows with tokens)
};

struct BlockStats {
  std::array<Stats, 4> all;             // every window, by input_index
  std::array<Stats, 4> half_a, half_b;  // windows [0, W/2) and [W/2, W), when halves
  std::array<std::vector<float>, 4> inputs;  // [tokens, n] row-major, when keep_inputs
  const Stats& operator[](InputKind k) const { return all[input_index(k)]; }
};

// Runs `m` on each window from position 0, blocks 0..layer, and collects block `layer`'s inputs.
BlockStats collect_block_stats(const model::Model& m, int layer, const std::vector<std::vector<int>>& windows,
                               const BlockStatsOptions& opt);

}  // namespace hessq::calib
