// hessq synth: a synthetic HF checkpoint with a real model's shapes and seeded random weights.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "hessq/cli/common.hpp"
#include "hessq/core/error.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/model/synth.hpp"

namespace hessq::cli {

struct SynthArgs {
  std::string like, out, dtype = "bf16";
  int layers = 2;
  uint64_t seed = 0;
};

static void run_synth(const SynthArgs& a) {
  model::ModelConfig cfg = model::synth_config(a.like, a.layers);
  auto dtype = io::parse_dtype(a.dtype == "f32" ? "F32" : a.dtype == "f16" ? "F16" : a.dtype == "bf16" ? "BF16" : "");
  HESSQ_CHECK(dtype.has_value(), "--dtype must be f32, f16 or bf16, got '{}'", a.dtype);
  spdlog::info("synth {}: {} layers, dim {}, hidden {}, heads {}/{}, vocab {} (seed {})", a.like, cfg.n_layers, cfg.dim,
               cfg.hidden_dim, cfg.n_heads, cfg.n_kv_heads, cfg.vocab_size, a.seed);
  // Tensor by tensor, in chunks of 2^20 values (256 rows of a 4096-wide matrix): memory stays bounded
  // at any model size.
  const model::SynthWeights weights(cfg, a.seed);
  io::write_hf_checkpoint_streamed(
      a.out, cfg, *dtype,
      [&](const std::string& name, size_t begin, size_t end, float* out) {
        weights.fill(name, static_cast<int64_t>(begin), static_cast<int64_t>(end), out);
      },
      model::synth_tokenizer_files());
  spdlog::info("wrote {} (synthetic weights: for speed and scale tests only)", a.out);
}

void add_synth(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  auto* sub = app.add_subcommand("synth", "Write a synthetic HF checkpoint: a real model's shapes, seeded random weights");
  sub->add_option("--like", a->like, "Shape to copy: " + fmt::format("{}", fmt::join(model::synth_shape_names(), ", ")))
      ->required();
  sub->add_option("--layers", a->layers, "Number of decoder layers (0: as many as the real model)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", a->seed, "Weight seed: same seed, identical files")->capture_default_str();
  sub->add_option("--dtype", a->dtype, "Storage dtype: f32, f16 or bf16")->capture_default_str();
  sub->add_option("-o,--out", a->out, "Output directory (created; its parent must exist)")->required();
  sub->footer("The directory holds config.json, model.safetensors and a byte-level tokenizer.json (256 byte\n"
              "tokens, so any text can be encoded). Synthetic weights produce meaningless text: use them for\n"
              "speed and memory measurements at real shapes, never as accuracy results.\n"
              "Example:\n  hessq synth --like qwen3-4b --layers 2 --seed 0 --out /tmp/qwen3-4b-l2");
  sub->callback([a] { run_synth(*a); });
}

}  // namespace hessq::cli
