// What every subcommand shares: the options that mean the same everywhere (--threads, --quiet,
// --verbose, --int8-activations), model and tokenizer resolution, and the registration functions main() dispatches to.
#pragma once
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "hessq/model/model.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

namespace hessq::cli {

struct GlobalOptions {
  int threads = 0;  // 0: all cores
  bool quiet = false;
  bool verbose = false;
  std::string int8_activations = "auto";  // model::Int8Activations
};

void add_global_options(CLI::App& app, GlobalOptions& g);
void apply_global_options(const GlobalOptions& g);

// --tokenizer if given, else the tokenizer beside the model; throws naming the model when none exists,
// and naming the tokenizer when its vocabulary does not fit the model's vocab_size
// (tokenizer::load_tokenizer_for_model).
std::unique_ptr<tokenizer::Tokenizer> open_tokenizer(const std::string& model_path, const std::string& tokenizer_path);

void add_generate(CLI::App& app);
void add_eval(CLI::App& app);
void add_inspect(CLI::App& app);
void add_convert(CLI::App& app);
void add_export(CLI::App& app);
void add_synth(CLI::App& app);
void add_quantize(CLI::App& app);
void add_snr(CLI::App& app);

}  // namespace hessq::cli
