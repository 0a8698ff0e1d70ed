// hessq generate: continue a prompt. stdout carries only the prompt and its continuation.
#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "hessq/cli/common.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/runtime/generate.hpp"

namespace hessq::cli {

struct GenerateArgs {
  std::string model, tokenizer, prompt;
  runtime::GenerateOptions gen;
};

static void run_generate(const GenerateArgs& a) {
  model::Model m = io::load_model(a.model);
  auto tok = open_tokenizer(a.model, a.tokenizer);
  fmt::print("{}", a.prompt);
  std::fflush(stdout);
  auto r = runtime::generate(m, *tok, a.prompt, a.gen, [](const std::string& piece) {
    fmt::print("{}", piece);
    std::fflush(stdout);
  });
  fmt::print("\n");
  const size_t n = r.generated.size();
  spdlog::info("prompt {} tokens in {:.3f} s ({:.1f} tok/s); generated {} tokens in {:.3f} s ({:.1f} tok/s)",
               r.prompt.size(), r.prefill_seconds, r.prompt.size() / std::max(r.prefill_seconds, 1e-9), n,
               r.decode_seconds, n / std::max(r.decode_seconds, 1e-9));
}

void add_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  auto* sub = app.add_subcommand("generate", "Continue a prompt (greedy, or temperature/top-p sampling with a seed)");
  sub->add_option("-m,--model", a->model, "llama2.c .bin, HuggingFace model directory or .gguf (dequantized)")->required();
  sub->add_option("--tokenizer", a->tokenizer, "Tokenizer file (default: the one beside the model)");
  sub->add_option("-p,--prompt", a->prompt, "Text to continue")->required();
  sub->add_option("-n,--max-tokens", a->gen.max_tokens, "New tokens at most (stops early at EOS)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--temperature", a->gen.sampler.temperature, "0 = greedy; > 0 samples softmax(logits / T)")
      ->capture_default_str();
  sub->add_option("--top-p", a->gen.sampler.top_p, "Nucleus sampling mass, in (0, 1]")->capture_default_str();
  sub->add_option("--seed", a->gen.sampler.seed, "Sampling seed: same seed, same text")->capture_default_str();
  sub->footer("Example:\n  hessq generate --model ../shared/models/stories260K/stories260K.bin "
              "--prompt \"Once upon a time\" --max-tokens 64 --temperature 0");
  sub->callback([a] { run_generate(*a); });
}

}  // namespace hessq::cli
