#include "hessq/cli/common.hpp"

#include <cblas.h>
#include <omp.h>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/gguf_checkpoint.hpp"
#include "hessq/io/hessq_format.hpp"
#include "hessq/io/hf_config.hpp"
#include "hessq/io/llama2c.hpp"
#include "hessq/model/quantized_linear.hpp"

extern "C" void openblas_set_num_threads(int);

namespace hessq::cli {

void add_global_options(CLI::App& app, GlobalOptions& g) {
  app.add_option("--threads", g.threads, "Worker threads for GEMM and attention (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_flag("-q,--quiet", g.quiet, "Only errors on stderr; no progress bars");
  app.add_flag("-v,--verbose", g.verbose, "Debug logging on stderr");
  app.add_option("--int8-activations", g.int8_activations,
                 "When packed INT weights (a .hessq's int-blocks layers) take int8 activations: auto = decode "
                 "only (fewer than 8 tokens per call; fast integer dot products), on = every call (shows the "
                 "accuracy cost in eval), off = never (exact fp32 activations everywhere)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->default_val("auto");
}

void apply_global_options(const GlobalOptions& g) {
  // BLAS and LAPACK run on one thread, hessq's own OpenMP loops over fixed-size pieces use --threads:
  // the output does not depend on the thread count (kernels/gemm_f32.hpp).
  openblas_set_num_threads(1);
  if (g.threads > 0) omp_set_num_threads(g.threads);
  model::set_int8_activations(g.int8_activations == "on"    ? model::Int8Activations::On
                              : g.int8_activations == "off" ? model::Int8Activations::Off
                                                            : model::Int8Activations::Auto);
  spdlog::set_level(g.quiet ? spdlog::level::err : g.verbose ? spdlog::level::debug : spdlog::level::info);
  Progress::set_quiet(g.quiet);
}

// The model's vocab_size from its header / config alone (no weights are read or converted).
static int model_vocab_size(const std::string& model_path) {
  switch (io::checkpoint_kind(model_path)) {
    case io::CheckpointKind::Llama2c:
      return io::read_llama2c(model_path).cfg.vocab_size;  // maps the file; views, no copies
    case io::CheckpointKind::HfDirectory:
      return io::read_hf_config(model_path).vocab_size;
    case io::CheckpointKind::Gguf:
      return io::gguf_model_config(io::GgufFile::open(model_path)).vocab_size;
    case io::CheckpointKind::Hessq:
      return io::model_config_from_json(io::read_hessq_manifest(model_path).at("config"), model_path + "/hessq.json")
          .vocab_size;
  }
  HESSQ_FAIL("{}: unknown checkpoint kind", model_path);
}

std::unique_ptr<tokenizer::Tokenizer> open_tokenizer(const std::string& model_path, const std::string& tokenizer_path) {
  std::string path = tokenizer_path.empty() ? io::default_tokenizer_path(model_path) : tokenizer_path;
  HESSQ_CHECK(!path.empty(), "{}: no tokenizer found beside the model; pass --tokenizer PATH", model_path);
  spdlog::debug("tokenizer: {}", path);
  // A tokenizer whose vocabulary does not fit the model is an error (the rule, including the padded
  // embeddings of HF models, is tokenizer::load_tokenizer_for_model's).
  return tokenizer::load_tokenizer_for_model(path, model_vocab_size(model_path));
}

}  // namespace hessq::cli
