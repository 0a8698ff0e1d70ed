// hessq: post-training quantization of Llama-family models. main() only parses and dispatches; each
// subcommand lives in its own file.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "hessq/cli/common.hpp"
#include "hessq/commit.hpp"
#include "hessq/core/error.hpp"

int main(int argc, char** argv) {
  auto logger = spdlog::stderr_color_mt("hessq");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);

  CLI::App app{"hessq: Hessian-guided post-training quantization of Llama-family LLMs, with the evidence "
               "(layer SNR, perplexity, task accuracy, size).\n"
               "Models: llama2.c .bin files or HuggingFace directories (Llama 2/3, Mistral, Qwen2/2.5/3, SmolLM)."};
  app.set_version_flag("--version", std::string(HESSQ_VERSION) + " (" + HESSQ_COMMIT + ")");
  app.require_subcommand(1);
  hessq::cli::GlobalOptions global;
  hessq::cli::add_global_options(app, global);
  app.parse_complete_callback([&] { hessq::cli::apply_global_options(global); });
  hessq::cli::add_generate(app);
  hessq::cli::add_eval(app);
  hessq::cli::add_inspect(app);
  hessq::cli::add_convert(app);
  hessq::cli::add_export(app);
  hessq::cli::add_synth(app);
  hessq::cli::add_quantize(app);
  hessq::cli::add_snr(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const hessq::Error& e) {
    spdlog::error("{}", e.what());
    spdlog::debug("at {}", e.where());
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
