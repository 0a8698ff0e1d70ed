#include "hessq/cli/common.hpp"

#include <cblas.h>
#include <omp.h>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/io/checkpoint.hpp"

extern "C" void openblas_set_num_threads(int);

namespace hessq::cli {

void add_global_options(CLI::App& app, GlobalOptions& g) {
  app.add_option("--threads", g.threads, "Worker threads for GEMM and attention (0: all cores)")->check(CLI::NonNegativeNumber);
  app.add_flag("-q,--quiet", g.quiet, "Only errors on stderr; no progress bars");
  app.add_flag("-v,--verbose", g.verbose, "Debug logging on stderr");
}

void apply_global_options(const GlobalOptions& g) {
  if (g.threads > 0) {
    openblas_set_num_threads(g.threads);
    omp_set_num_threads(g.threads);
  }
  spdlog::set_level(g.quiet ? spdlog::level::err : g.verbose ? spdlog::level::debug : spdlog::level::info);
  Progress::set_quiet(g.quiet);
}

std::unique_ptr<tokenizer::Tokenizer> open_tokenizer(const std::string& model_path, const std::string& tokenizer_path) {
  std::string path = tokenizer_path.empty() ? io::default_tokenizer_path(model_path) : tokenizer_path;
  HESSQ_CHECK(!path.empty(), "{}: no tokenizer found beside the model; pass --tokenizer PATH", model_path);
  spdlog::debug("tokenizer: {}", path);
  return tokenizer::load_tokenizer(path);
}

}  // namespace hessq::cli
