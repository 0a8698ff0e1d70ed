// The quantization pipeline: one driver for every recipe (weight-only, W4A4, W4A8, any composition
// the registry accepts), streaming a checkpoint block by block in bounded memory.
//
//   0. model-scope passes (model_transform.hpp): the rotation (QuaRot) is built once, or learned by
//      hero / spinquant after a float statistics pre-pass over the calibration windows
//      (hero_pass.hpp), and applied to each block as it is loaded, to the embedding and to the head;
//   1. (branch rank allocation: a float pass over all blocks for the rank curves, rank_alloc.hpp);
//   2. the hidden states of every calibration and held-out window enter block 0 (embedding rows);
//   3. for each block k: its float weights are read from the store (fp32 only now, released after);
//      the float block runs on the stored states to collect statistics (block_stats.hpp); the block
//      passes run (block_passes.hpp); each linear is solved (solve_linear.hpp) and the quantized block
//      goes to the sink (written to disk at once); then the states advance through the *quantized*
//      block (sequential, GPTQ's llama_sequential) or the float one (--float-inputs);
//   4. the embedding, final norm and head go to the sink (as stored, or transformed).
// Block forwards: O(L) (each window runs each block once for statistics, once more to advance, and
// once more when a block pass changed the inputs an ARHQ metric needs), counted in `block_forwards`
// and given by expected_block_forwards(). Memory: one block's weights (fp32), its statistics, the
// hidden states (F32/F16/BF16, in memory or spilled to a file), and the solver's scratch.
// Resume: a sink that already holds blocks [0, k) has them replayed (their stored quantized layers,
// or the float blocks with --float-inputs) to rebuild the states, then k.. continue: the output is
// identical to an uninterrupted run's (hero / spinquant rerun their deterministic optimization first).
#pragma once
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hessq/calib/windows.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/io/tensor_store.hpp"
#include "hessq/model/model.hpp"
#include "hessq/pipeline/recipe.hpp"

namespace hessq::pipeline {

class Dumper;

// Where the quantized model goes, block by block.
class BlockSink {
 public:
  virtual ~BlockSink() = default;
  // Blocks [0, k) are already done (a resumed run).
  virtual int completed_blocks() const { return 0; }
  // A completed block as it was stored (quantized linears), for the replay.
  virtual model::LayerWeights completed_block(int layer) const;
  virtual void put_block(int layer, const model::LayerWeights& q,
                         const std::map<std::string, nlohmann::ordered_json>& diagnostics) = 0;
  // The embedding, final norm and (untied) head as they are to be stored, with the output config.
  virtual void put_tensors(const model::ModelConfig& cfg, const std::vector<io::StoredTensor>& tensors,
                           const io::QuantizedTensors& quantized = {}) = 0;
};

// A sink that keeps the quantized model in memory (tests, small models).
class ModelSink final : public BlockSink {
 public:
  explicit ModelSink(const model::ModelConfig& cfg);
  void put_block(int layer, const model::LayerWeights& q,
                 const std::map<std::string, nlohmann::ordered_json>& diagnostics) override;
  void put_tensors(const model::ModelConfig& cfg, const std::vector<io::StoredTensor>& tensors,
                   const io::QuantizedTensors& quantized = {}) override;
  model::Model model;
  std::map<std::string, nlohmann::ordered_json> diagnostics;
};

// The sink of a .hessq output (io::HessqWriter): blocks are written as they come, and a resumed
// writer's completed blocks are read back for the replay. Fault injection for the kill tests: with
// HESSQ_KILL_AFTER_BLOCK=k in the environment the process SIGKILLs itself right after block k is
// written (k = -1: after the embedding/head), which is what a crash or an OOM kill does there.
class HessqSink final : public BlockSink {
 public:
  HessqSink(io::HessqWriter& w, const model::ModelConfig& cfg);
  int completed_blocks() const override;
  model::LayerWeights completed_block(int layer) const override;
  void put_block(int layer, const model::LayerWeights& q,
                 const std::map<std::string, nlohmann::ordered_json>& diagnostics) override;
  void put_tensors(const model::ModelConfig& cfg, const std::vector<io::StoredTensor>& tensors,
                   const io::QuantizedTensors& quantized = {}) override;

 private:
  io::HessqWriter& w_;
  model::ModelConfig cfg_;
  std::optional<int> kill_after_;
};

struct QuantizeOptions {
  bool progress = true;                     // one bar over blocks, with ETA and RSS
  io::DType hidden_dtype = io::DType::F32;  // storage of the hidden states (F32, F16, BF16)
  std::string spill_file;                   // non-empty: keep the hidden states in this file
  Dumper* dumper = nullptr;                 // --dump: each linear's W, X and W_q
  // The token embedding's and the untied head's formats (pipeline/head_quant.hpp); nullopt: as stored.
  std::optional<formats::QuantSpec> embed_spec, head_spec;
};

struct QuantizeReport {
  model::ModelConfig cfg;                                     // the quantized model's (a rotation unties the head)
  std::map<std::string, nlohmann::ordered_json> diagnostics;  // the blocks solved in this call
  nlohmann::ordered_json timing;      // seconds per stage (load, calibration forwards, passes, solve, write, ...)
  nlohmann::ordered_json rotation;    // transforms::rotate_report_json, or null
  nlohmann::ordered_json hero;        // hero / spinquant: the optimizer's report (hero_pass.cpp; its seconds
                                      // are in timing.hero), or null
  nlohmann::ordered_json allocation;  // the rank allocation, or null
  int64_t block_forwards = 0;         // (block, window) forward passes run, replays and held-out windows included
  int resumed_from = 0;               // blocks found done in the sink
  int64_t hidden_bytes = 0;
  bool hidden_spilled = false;
  int64_t peak_rss_bytes = 0;
};

QuantizeReport quantize(const io::TensorStore& src, const Recipe& r, const calib::Windows& w, BlockSink& sink,
                        const QuantizeOptions& opt = {});

// The number of block forwards quantize() runs: L (W_c + W_h) for statistics, (L - 1) (W_c + W_h) to
// advance the states, L W_c more when ARHQ's metric needs a second pass (smoothquant or awq with
// arhq / arhq-h), 2 L W_c - W_c for the allocation pass (statistics + advance), and k (W_c + W_h) to
// replay k resumed blocks, plus hero / spinquant's statistics pre-pass (hero_pass_forwards). W_c / W_h:
// calibration / held-out windows.
int64_t expected_block_forwards(const Recipe& r, int n_layers, int64_t calib_windows, int64_t heldout_windows,
                                int resumed_from = 0);

// A rough upper bound of the resident memory quantize() needs for `cfg`, and its parts (bytes), so a
// configuration that cannot fit is refused before any work.
struct MemoryEstimate {
  int64_t block = 0, stats = 0, solver = 0, hidden = 0, other = 0;
  int64_t total() const { return block + stats + solver + hidden + other; }
  std::string describe() const;
};
MemoryEstimate estimate_memory(const model::ModelConfig& cfg, const Recipe& r, const calib::Windows& w,
                               io::DType hidden_dtype, bool spilled, bool dump);

}  // namespace hessq::pipeline
