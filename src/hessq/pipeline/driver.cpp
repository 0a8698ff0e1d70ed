#include "hessq/pipeline/driver.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/core/memory.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/core/timer.hpp"
#include "hessq/methods/arhq.hpp"
#include "hessq/methods/rank_allocation.hpp"
#include "hessq/model/act_quant_linear.hpp"
#include "hessq/model/hadamard_linear.hpp"
#include "hessq/model/layout.hpp"
#include "hessq/pipeline/block_passes.hpp"
#include "hessq/pipeline/block_stats.hpp"
#include "hessq/pipeline/dump.hpp"
#include "hessq/pipeline/head_quant.hpp"
#include "hessq/pipeline/hidden_states.hpp"
#include "hessq/pipeline/hero_pass.hpp"
#include "hessq/pipeline/matrix_util.hpp"
#include "hessq/pipeline/model_transform.hpp"
#include "hessq/pipeline/rank_alloc.hpp"
#include "hessq/pipeline/solve_linear.hpp"
#include "hessq/transforms/fold_norms.hpp"
#include "hessq/transforms/rotation.hpp"

namespace hessq::pipeline {

using json = nlohmann::ordered_json;
using methods::MatF;
using model::InputKind;

model::LayerWeights BlockSink::completed_block(int layer) const {
  HESSQ_FAIL("this output holds no completed block {} to resume from", layer);
}

ModelSink::ModelSink(const model::ModelConfig& cfg) {
  model.cfg = cfg;
  model.layers.resize(static_cast<size_t>(cfg.n_layers));
}

void ModelSink::put_block(int layer, const model::LayerWeights& q, const std::map<std::string, json>& d) {
  model.layers[layer] = q;
  for (const auto& [name, j] : d) diagnostics[name] = j;
}

void ModelSink::put_tensors(const model::ModelConfig& cfg, const std::vector<io::StoredTensor>& tensors,
                            const io::QuantizedTensors& quantized) {
  model.cfg = cfg;
  for (const io::StoredTensor& t : tensors) {
    const Tensor f = t.to_f32(false);
    if (t.name == "model.embed_tokens.weight") model.tok_emb = f;
    else if (t.name == "model.norm.weight") model.final_norm = f;
    else if (t.name == "lm_head.weight") model.lm_head = std::make_shared<model::DenseLinear>(f);
    else HESSQ_FAIL("unexpected non-block tensor {}", t.name);
  }
  if (cfg.tie_embeddings) model.lm_head = std::make_shared<model::DenseLinear>(model.tok_emb);
  for (const auto& [name, q] : quantized) {
    auto lin = std::const_pointer_cast<model::QuantizedLinear>(q);
    if (name == "model.embed_tokens") {
      model.tok_emb = Tensor{};
      model.tok_emb_q = q;
      if (cfg.tie_embeddings) model.lm_head = lin;
    } else {
      model.lm_head = lin;
    }
  }
}

HessqSink::HessqSink(io::HessqWriter& w, const model::ModelConfig& cfg) : w_(w), cfg_(cfg) {
  if (const char* k = std::getenv("HESSQ_KILL_AFTER_BLOCK")) kill_after_ = std::atoi(k);
}

int HessqSink::completed_blocks() const { return w_.completed_blocks(); }

model::LayerWeights HessqSink::completed_block(int layer) const { return w_.load_block(layer, cfg_); }

void HessqSink::put_block(int layer, const model::LayerWeights& q, const std::map<std::string, json>& d) {
  w_.write_block(layer, q, cfg_, d);
  if (kill_after_ && *kill_after_ == layer) std::raise(SIGKILL);
}

void HessqSink::put_tensors(const model::ModelConfig& cfg, const std::vector<io::StoredTensor>& t,
                            const io::QuantizedTensors& quantized) {
  w_.write_tensors(cfg, t, quantized);
  if (kill_after_ && *kill_after_ == -1) std::raise(SIGKILL);
}

namespace {

// What the recipe asks of the calibration pass.
struct Needs {
  bool metric = false;      // an ARHQ / ARHQ-H metric (G) for linears with a branch
  bool second_pass = false; // G in scaled spaces: a block pass rescales inputs (smoothquant, awq)
  bool halves = false;      // OSAQ's null-space stability diagnostic
  int64_t sample = 0;       // sampled calibration rows per input
};

Needs needs_of(const Recipe& r, int64_t calib_windows) {
  Needs n;
  const Pass* b = r.branch();
  n.metric = b && (b->name == "arhq" || b->name == "arhq-h");
  n.second_pass = n.metric && (r.find("smoothquant") || r.find("awq"));
  n.halves = r.find("osaq") && calib_windows >= 2;
  constexpr int64_t kDiagTokens = 1024;  // strided calibration tokens for the layer SNR diagnostic
  if (r.act || r.find("smoothquant") || b) {
    n.sample = kDiagTokens;
    if (const Pass* s = r.find("smoothquant")) n.sample = std::max(n.sample, s->smooth.tokens);
    if (b && b->branch.refine > 0) n.sample = std::max(n.sample, b->branch.refine_tokens);
  }
  return n;
}

struct Stages {
  double rotate = 0, allocate = 0, load = 0, calib = 0, passes = 0, metric = 0, branch = 0, solve = 0, diag = 0,
         write = 0;
  json to_json(double total) const {
    return {{"rotate_s", rotate}, {"allocate_s", allocate},  {"load_s", load},   {"calibration_forward_s", calib},
            {"block_passes_s", passes}, {"metric_s", metric}, {"branch_s", branch}, {"solve_s", solve},
            {"diagnostics_s", diag},   {"write_s", write},    {"total_s", total}};
  }
};

// One block ready for its linears: weights after the block passes, statistics, H per input, metrics.
struct PreparedBlock {
  BlockWork w;
  BlockCalib bc;
  std::array<std::shared_ptr<linalg::Mat>, 4> H;
  std::array<std::shared_ptr<const methods::Metric>, 7> metric;
};

class Driver {
 public:
  Driver(const io::TensorStore& src, const Recipe& r, const calib::Windows& w, const QuantizeOptions& opt)
      : src_(src), r_(r), w_(w), opt_(opt), cfg_(src.cfg), needs_(needs_of(r, static_cast<int64_t>(w.calib.size()))) {}

  QuantizeReport run(BlockSink& sink);

 private:
  model::LayerWeights load_block(int l);
  void embed_windows(HiddenStates& hs, bool heldout);
  PreparedBlock prepare(const model::LayerWeights& Lf, int l, const HiddenStates& stream, const std::array<int, 7>& ranks);
  std::vector<std::array<int, 7>> allocate_ranks(json& report);
  // An online rotation before down_proj: M = (H_{2^k} / 2^(k/2)) ⊗ B, kept as (k, B).
  using DownRotation = std::optional<std::pair<int, Tensor>>;
  model::LayerWeights solve_block(const model::LayerWeights& Lf, const DownRotation& down_rotation, int l,
                                  PreparedBlock& pb, const std::array<int, 7>& ranks, std::map<std::string, json>& diag);

  const io::TensorStore& src_;
  const Recipe& r_;
  const calib::Windows& w_;
  const QuantizeOptions& opt_;
  const model::ModelConfig& cfg_;
  Needs needs_;
  ModelTransform mt_;  // the model-scope pass (rotate, hero, spinquant), applied as blocks are loaded
  Stages t_;
  int64_t forwards_ = 0;
  std::map<std::string, double> seconds_;  // per linear: block passes + branch + solver
};

model::LayerWeights Driver::load_block(int l) {
  const auto t0 = Clock::now();
  model::LayerWeights L = with_context(fmt::format("{}: block {}", src_.source, l), [&] { return src_.layer(l); });
  mt_.apply_layer(L, l);
  t_.load += seconds_since(t0);
  return L;
}

void Driver::embed_windows(HiddenStates& hs, bool heldout) {
  std::vector<float> x(static_cast<size_t>(hs.window() * hs.dim()));
  int64_t w = 0;
  auto put = [&](const std::vector<int>& tokens) {
    mt_.embed(src_, tokens.data(), static_cast<int>(tokens.size()), x.data());
    hs.write(w++, x.data());
  };
  for (const auto& win : w_.calib) put(win);
  if (heldout)
    for (const auto& win : w_.heldout) put(win);
}

PreparedBlock Driver::prepare(const model::LayerWeights& Lf, int l, const HiddenStates& stream,
                              const std::array<int, 7>& ranks) {
  PreparedBlock pb;
  const int64_t n_calib = static_cast<int64_t>(w_.calib.size());
  auto t0 = Clock::now();
  StatsOptions so;
  so.halves = needs_.halves;
  so.keep_all = opt_.dumper != nullptr;
  so.act = needs_.metric && !needs_.second_pass ? &*r_.act : nullptr;
  so.sample_tokens = needs_.sample;
  if (r_.solver().name == "gptq") so.first_weight = r_.solver().gptq_first_weight;
  pb.bc = collect_block_stats(cfg_, Lf, l, stream, n_calib, so, forwards_);
  t_.calib += seconds_since(t0);

  t0 = Clock::now();
  pb.w = with_context(fmt::format("block {}", l), [&] {
    BlockWork w = begin_block(Lf, l, cfg_);
    run_block_passes(w, pb.bc, r_, cfg_, l);
    return w;
  });
  t_.passes += seconds_since(t0);

  // H per input; the n x n sums are released as soon as H exists (down_proj's are the largest
  // matrices of the whole run).
  for (InputKind k : model::kAllInputs) {
    const int i = model::input_index(k);
    pb.H[i] = std::make_shared<linalg::Mat>(pb.bc.st[i].take_H());
  }
  bool any_metric = false;
  for (model::Proj p : model::kAllProjs) any_metric = any_metric || (needs_.metric && ranks[model::proj_index(p)] > 0);
  if (!any_metric) return pb;

  // G: from the statistics pass (raw space), or a second pass in each linear's scaled space X / (c s).
  std::array<std::optional<calib::Stats>, 7> Gs;
  if (needs_.second_pass) {
    t0 = Clock::now();
    std::array<std::optional<methods::VecF>, 7> c;
    for (model::Proj p : model::kAllProjs) {
      const int pi = model::proj_index(p);
      if (ranks[pi] == 0) continue;
      methods::VecF cp = pb.w.c[model::input_index(model::input_of(p))].cast<float>();
      if (pb.w.s[pi]) cp = cp.cwiseProduct(*pb.w.s[pi]);
      c[pi] = cp;
    }
    Gs = collect_scaled_residuals(cfg_, Lf, l, stream, n_calib, *r_.act, c, forwards_);
    t_.calib += seconds_since(t0);
  }
  t0 = Clock::now();
  const Pass& bp = *r_.branch();
  for (InputKind k : model::kAllInputs) {
    std::shared_ptr<const methods::Metric> shared;  // raw space: one per input
    for (model::Proj p : model::projs_reading(k)) {
      const int pi = model::proj_index(p);
      if (ranks[pi] == 0) continue;
      if (!needs_.second_pass && shared) {
        pb.metric[pi] = shared;
        continue;
      }
      calib::Stats& E = needs_.second_pass ? *Gs[pi] : pb.bc.err[model::input_index(k)];
      linalg::Mat G = E.H();
      E.XtX = linalg::Mat();
      if (bp.name == "arhq-h") {
        const linalg::Mat& H = *pb.H[model::input_index(k)];
        if (pb.w.s[pi]) {
          const linalg::Vec inv = pb.w.s[pi]->cast<double>().cwiseInverse();
          G = methods::arhq_h_metric(inv.asDiagonal() * H * inv.asDiagonal(), G, bp.branch.mult);
        } else {
          G = methods::arhq_h_metric(H, G, bp.branch.mult);
        }
      }
      auto metric = std::make_shared<const methods::Metric>(with_context(
          model::linear_name(l, p), [&] { return methods::make_metric(G, bp.branch.eps, !bp.branch.eps_abs); }));
      pb.metric[pi] = metric;
      if (!needs_.second_pass) shared = metric;
    }
  }
  t_.metric += seconds_since(t0);
  return pb;
}

std::vector<std::array<int, 7>> Driver::allocate_ranks(json& report) {
  const auto t0 = Clock::now();
  const int64_t n_calib = static_cast<int64_t>(w_.calib.size());
  HiddenStates stream(n_calib, w_.window, cfg_.dim, opt_.hidden_dtype);
  embed_windows(stream, false);
  const int r0 = r_.branch()->branch.rank;
  struct Member {
    int layer;
    model::Proj proj;
  };
  std::vector<Member> members;
  std::vector<methods::RankCurve> curves;
  int64_t budget = 0;
  std::optional<Progress> progress;
  if (opt_.progress) progress.emplace("rank curves", cfg_.n_layers);
  for (int l = 0; l < cfg_.n_layers; ++l) {
    const model::LayerWeights Lf = load_block(l);
    std::array<int, 7> top{};
    std::array<std::vector<int>, 7> grids;
    for (model::Proj p : model::kAllProjs) {
      const auto [m, n] = model::proj_shape(cfg_, p);
      grids[model::proj_index(p)] = rank_grid(r0, std::min(m, n));
      top[model::proj_index(p)] = grids[model::proj_index(p)].back();
    }
    PreparedBlock pb = with_context(fmt::format("rank allocation, block {}", l), [&] { return prepare(Lf, l, stream, top); });
    for (model::Proj p : model::kAllProjs) {
      const int pi = model::proj_index(p);
      const MatF& X = pb.bc.sample[model::input_index(model::input_of(p))];
      HESSQ_CHECK(X.rows() > 0, "rank allocation needs sampled calibration tokens");
      curves.push_back(rank_curve(pb.w.W[pi], pb.w.s[pi], pb.metric[pi].get(), X, r_, grids[pi]));
      members.push_back({l, p});
      const auto [m, n] = model::proj_shape(cfg_, p);
      budget += static_cast<int64_t>(r0) * (m + n);
    }
    if (l + 1 < cfg_.n_layers) {
      const auto t1 = Clock::now();
      advance_stream(cfg_, Lf, l, stream, n_calib, forwards_);
      t_.calib += seconds_since(t1);
    }
    src_.release_layer(l);
    if (progress) progress->advance();
  }
  const methods::RankAllocation a = methods::allocate_ranks(curves, budget);
  std::vector<std::array<int, 7>> ranks(cfg_.n_layers);
  json chosen = json::object();
  for (size_t i = 0; i < members.size(); ++i) {
    ranks[members[i].layer][model::proj_index(members[i].proj)] = a.ranks[i];
    chosen[model::linear_name(members[i].layer, members[i].proj)] = a.ranks[i];
  }
  report = {{"budget_rank", r0},
            {"budget_params", a.budget},
            {"used_params", a.used},
            {"grid_factors", {0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4}},
            {"score", "-||Y_hat - Y||^2 / ||Y||^2 (calibration sample)"},
            {"inputs", "float model (rotated when rotating)"},
            {"ranks", chosen}};
  spdlog::info("rank allocation: {} of {} budget parameters used over {} linears", a.used, a.budget, members.size());
  t_.allocate += seconds_since(t0);
  return ranks;
}

// Lf: the float block's norms (its linears may be gone); down_rotation: its online rotation, if any.
model::LayerWeights Driver::solve_block(const model::LayerWeights& Lf, const DownRotation& down_rotation, int l,
                                        PreparedBlock& pb, const std::array<int, 7>& ranks,
                                        std::map<std::string, json>& diag) {
  model::LayerWeights q;
  q.attn_norm = pb.w.attn_norm;
  q.ffn_norm = pb.w.ffn_norm;
  q.q_norm = Lf.q_norm;
  q.k_norm = Lf.k_norm;
  for (InputKind k : model::kAllInputs) {
    const int i = model::input_index(k);
    for (model::Proj p : model::projs_reading(k)) {
      const int pi = model::proj_index(p);
      const std::string name = model::linear_name(l, p);
      const bool last_reader = p == model::projs_reading(k).back() && !opt_.dumper;
      LinearProblem prob;
      prob.name = name;
      prob.layer = l;
      prob.proj = p;
      prob.W = &pb.w.W[pi];
      prob.W_ref = &pb.w.ref(pi);
      prob.bias = pb.w.bias[pi];
      prob.s = pb.w.s[pi];
      prob.H = pb.H[i].get();
      prob.H_last_reader = last_reader ? pb.H[i].get() : nullptr;
      prob.metric = pb.metric[pi].get();
      prob.rank = ranks[pi];
      prob.sample = &pb.bc.sample[i];
      prob.heldout = &pb.bc.heldout[i];
      LinearSolution sol = solve_linear(prob, r_);
      t_.branch += sol.branch_s;
      t_.solve += sol.solve_s;
      t_.diag += sol.diag_s;
      json d = pb.w.diag[pi];
      d.update(sol.diag);
      // Seconds are the only non-deterministic numbers: they go to the timing, not the diagnostics.
      double seconds = sol.branch_s + sol.solve_s;
      if (d.contains("osaq") && d["osaq"].contains("seconds")) {
        seconds += d["osaq"]["seconds"].get<double>();
        d["osaq"].erase("seconds");
      }
      seconds_[name] = seconds;
      spdlog::info("[blk {}/{}] {:<9} {} {}{}  loss_rel {:.3e}{}  {:.2f} s", l + 1, cfg_.n_layers, model::proj_name(p),
                   d.value("solver", std::string()) == "none" ? std::string("kept") : r_.method,
                   d.value("format", std::string()), ranks[pi] > 0 ? fmt::format(" r{}", ranks[pi]) : "",
                   d.value("loss_rel", 0.0),
                   d.contains("snr_db") ? fmt::format("  snr {:.2f} dB (plain {:.2f} dB)", d.value("snr_db", 0.0),
                                                      d.value("snr_rtn_db", 0.0))
                                        : "",
                   seconds);
      if (opt_.dumper) {
        const model::Linear* lin = sol.linear.get();
        if (auto* a = dynamic_cast<const model::ActQuantLinear*>(lin)) lin = a->residual().get();
        const auto* ql = dynamic_cast<const model::QuantizedLinear*>(lin);
        if (ql) opt_.dumper->add(LinearDump{l, p, k, pb.w.W[pi], pb.bc.all[i], to_mat(ql->dequantized())}, ql->spec());
      }
      std::shared_ptr<model::Linear> lin = sol.linear;
      if (p == model::Proj::Down && down_rotation)
        lin = std::make_shared<model::HadamardLinear>(lin, down_rotation->first, down_rotation->second);
      q.linear(p) = std::move(lin);
      diag[name] = std::move(d);
      pb.w.W[pi] = MatF();  // the float weight is no longer needed
      pb.w.W_ref[pi].reset();
    }
    pb.H[i].reset();  // every reader of this input is solved
  }
  return q;
}

QuantizeReport Driver::run(BlockSink& sink) {
  const auto t_start = Clock::now();
  QuantizeReport rep;
  check_recipe_fits(r_, cfg_);
  HESSQ_CHECK(!w_.calib.empty(), "no calibration windows");
  const int L = cfg_.n_layers;
  const int64_t n_calib = static_cast<int64_t>(w_.calib.size()), n_held = static_cast<int64_t>(w_.heldout.size());

  // 0. The model-scope passes.
  {
    const auto t0 = Clock::now();
    mt_ = make_model_transform(src_, r_, w_, {opt_.hidden_dtype, opt_.spill_file, opt_.progress}, forwards_);
    t_.rotate = seconds_since(t0);
    rep.rotation = mt_.rotation;
    rep.hero = mt_.hero;
  }

  // 1. Ranks per linear.
  std::vector<std::array<int, 7>> ranks(L);
  const Pass* bp = r_.branch();
  for (auto& rk : ranks) rk.fill(bp ? bp->branch.rank : 0);
  rep.allocation = nullptr;
  if (bp && bp->branch.alloc) ranks = allocate_ranks(rep.allocation);

  // 2. The hidden states entering block 0, then the replay of blocks a previous run completed.
  HiddenStates stream(n_calib + n_held, w_.window, cfg_.dim, opt_.hidden_dtype, opt_.spill_file);
  rep.hidden_bytes = stream.bytes();
  rep.hidden_spilled = stream.spilled();
  embed_windows(stream, true);
  rep.resumed_from = sink.completed_blocks();
  HESSQ_CHECK(rep.resumed_from >= 0 && rep.resumed_from <= L, "the output holds {} blocks of a {}-block model",
              rep.resumed_from, L);
  if (rep.resumed_from > 0) spdlog::info("resuming: replaying the {} completed blocks", rep.resumed_from);
  for (int l = 0; l < rep.resumed_from; ++l) {
    const model::LayerWeights Lr = r_.sequential ? sink.completed_block(l) : load_block(l);
    const auto t0 = Clock::now();
    advance_stream(cfg_, Lr, l, stream, stream.windows(), forwards_);
    t_.calib += seconds_since(t0);
    src_.release_layer(l);
  }

  // 3. Block by block.
  std::optional<Progress> progress;
  if (opt_.progress) progress.emplace("quantize", L - rep.resumed_from);
  for (int l = rep.resumed_from; l < L; ++l) {
    model::LayerWeights Lf = load_block(l);
    PreparedBlock pb = with_context(fmt::format("block {}", l), [&] { return prepare(Lf, l, stream, ranks[l]); });
    // The online rotation of down_proj (its base only), then, when the states will advance through the
    // quantized block, the float weights go: the block passes hold their own copies (an 8B block is
    // 0.8 GB in fp32).
    DownRotation down_rotation;
    if (auto* h = dynamic_cast<const model::HadamardLinear*>(Lf.linear(model::Proj::Down).get()))
      down_rotation.emplace(h->log2_blocks(), h->base());
    if (r_.sequential)
      for (model::Proj p : model::kAllProjs) Lf.linear(p).reset();
    std::map<std::string, json> diag;
    const model::LayerWeights q = with_context(fmt::format("block {}", l), [&] {
      return solve_block(Lf, down_rotation, l, pb, ranks[l], diag);
    });
    pb = PreparedBlock();  // statistics and samples are done with
    auto t0 = Clock::now();
    sink.put_block(l, q, diag);
    t_.write += seconds_since(t0);
    if (l + 1 < L) {
      t0 = Clock::now();
      advance_stream(cfg_, r_.sequential ? q : Lf, l, stream, stream.windows(), forwards_);
      t_.calib += seconds_since(t0);
    }
    src_.release_layer(l);
    rep.diagnostics.insert(diag.begin(), diag.end());
    if (progress) {
      progress->set_note("RSS " + gib_str(current_rss_bytes()));
      progress->advance();
    }
  }
  if (progress) progress->finish();

  // 4. Embedding, final norm, head.
  auto t0 = Clock::now();
  std::vector<io::StoredTensor> final_tensors = mt_.final_tensors(src_, rep.cfg);
  io::QuantizedTensors quantized;
  if (opt_.embed_spec || opt_.head_spec)
    quantized = quantize_embeddings(opt_.embed_spec, opt_.head_spec, rep.cfg, final_tensors);
  sink.put_tensors(rep.cfg, final_tensors, quantized);
  t_.write += seconds_since(t0);
  rep.block_forwards = forwards_;
  rep.timing = t_.to_json(seconds_since(t_start));
  rep.timing["per_linear_s"] = seconds_;
  if (!mt_.hero_timing.is_null()) rep.timing["hero"] = mt_.hero_timing;
  rep.peak_rss_bytes = peak_rss_bytes();
  spdlog::info("quantized {} blocks in {:.2f} s ({} block forwards; peak RSS {})", L - rep.resumed_from,
               seconds_since(t_start), forwards_, gib_str(rep.peak_rss_bytes));
  return rep;
}

}  // namespace

QuantizeReport quantize(const io::TensorStore& src, const Recipe& r, const calib::Windows& w, BlockSink& sink,
                        const QuantizeOptions& opt) {
  // Calibration runs quantized blocks on exact activations, whatever the window length: the statistics
  // are those of the fake-quantized model (model/quantized_linear.hpp, Int8Activations).
  const model::ScopedInt8Activations exact(model::Int8Activations::Off);
  Driver d(src, r, w, opt);
  return d.run(sink);
}

int64_t expected_block_forwards(const Recipe& r, int n_layers, int64_t calib_windows, int64_t heldout_windows,
                                int resumed_from) {
  const int64_t L = n_layers, Wc = calib_windows, Wh = heldout_windows, k = resumed_from;
  const Needs n = needs_of(r, Wc);
  const Pass* b = r.branch();
  int64_t f = (L - k) * (Wc + Wh) + std::max<int64_t>(L - 1 - k, 0) * (Wc + Wh) + k * (Wc + Wh);
  if (n.second_pass) f += (L - k) * Wc;
  if (const Pass* m = r.of_scope(PassScope::Model); m && (m->name == "hero" || m->name == "spinquant"))
    f += hero_pass_forwards(m->hero.every, n_layers, Wc);
  if (b && b->branch.alloc) f += L * Wc + (L - 1) * Wc + (n.second_pass ? L * Wc : 0);
  return f;
}

std::string MemoryEstimate::describe() const {
  return fmt::format("{} in all: one block's weights {}, statistics {}, solver scratch {}, hidden states {}, "
                     "embedding/head and buffers {}",
                     gib_str(total()), gib_str(block), gib_str(stats), gib_str(solver), gib_str(hidden), gib_str(other));
}

MemoryEstimate estimate_memory(const model::ModelConfig& cfg, const Recipe& r, const calib::Windows& w,
                               io::DType hidden_dtype, bool spilled, bool dump) {
  MemoryEstimate e;
  const Needs n = needs_of(r, static_cast<int64_t>(w.calib.size()));
  int64_t block = 0, max_n = 0, max_mn = 0;
  for (model::Proj p : model::kAllProjs) {
    const auto [m, nn] = model::proj_shape(cfg, p);
    block += m * nn;
    max_n = std::max(max_n, nn);
    max_mn = std::max(max_mn, m * nn);
  }
  // fp32: the float block, its working copy, the decoded quantized block.
  e.block = 3 * block * 4;
  int64_t sq = 0, rows = 0;
  const int64_t held_tokens = static_cast<int64_t>(w.heldout.size()) * w.window;
  const int64_t calib_tokens = static_cast<int64_t>(w.calib.size()) * w.window;
  for (model::InputKind k : model::kAllInputs) {
    const int64_t d = model::input_features(cfg, k);
    sq += d * d;
    rows += d;
  }
  const int copies = 1 + (n.halves ? 2 : 0) + (n.metric ? 1 : 0);
  e.stats = sq * 8 * copies + rows * 4 * (held_tokens + n.sample + (dump ? calib_tokens : 0));
  // GPTQ: a working copy of H and the float factor; a branch: the metric's eigenvectors and M'.
  e.solver = max_n * max_n * 12 + (r.branch() ? max_n * max_n * 8 + max_mn * 8 * 2 : 0) + max_mn * 4 * 4;
  e.hidden = spilled ? 0 : HiddenStates::bytes_for(static_cast<int64_t>(w.calib.size() + w.heldout.size()), w.window,
                                                   cfg.dim, hidden_dtype);
  const int64_t table = static_cast<int64_t>(cfg.vocab_size) * cfg.dim * 4;
  e.other = (r.of_scope(PassScope::Model) ? 2 * table : 0) + (int64_t{256} << 20);
  if (const Pass* m = r.of_scope(PassScope::Model); m && (m->name == "hero" || m->name == "spinquant")) {
    // hero_pass.hpp: per selected block 2 H [dim, dim] fp32 and the readers' objective rows; with
    // learned heads also o_proj's input H [q_dim, q_dim], its objective rows, and v_proj whole.
    const int64_t sel = (cfg.n_layers - 1) / m->hero.every + 1, rows_cap = m->hero.opt.max_rows;
    const bool heads = m->hero.heads && m->hero.v_o;
    auto capped = [&](int64_t mr) { return rows_cap > 0 ? std::min(mr, std::max<int64_t>(rows_cap, 16)) : mr; };
    int64_t rows = 0;
    for (model::Proj p : {model::Proj::Q, model::Proj::K, model::Proj::V, model::Proj::Gate, model::Proj::Up}) {
      const int64_t mr = model::proj_shape(cfg, p).first;
      rows += heads && p == model::Proj::V ? mr : capped(mr);
    }
    const auto [o_rows, q_dim] = model::proj_shape(cfg, model::Proj::O);
    const int64_t head_floats = heads ? q_dim * q_dim + capped(o_rows) * q_dim : 0;
    e.other += sel * (2 * cfg.dim * cfg.dim + rows * cfg.dim + head_floats) * 4;
  }
  return e;
}

}  // namespace hessq::pipeline
