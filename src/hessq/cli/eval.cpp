// hessq eval: perplexity of a model on a text file (non-overlapping windows).
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "hessq/cli/common.hpp"
#include "hessq/core/error.hpp"
#include "hessq/eval/perplexity.hpp"
#include "hessq/eval/text.hpp"
#include "hessq/io/checkpoint.hpp"

namespace hessq::cli {

struct EvalArgs {
  std::string model, tokenizer, ppl_file;
  int64_t max_tokens = 0;
  int64_t max_chars = 0;
  bool json = false;
  eval::PerplexityOptions ppl;
};

static void run_eval(const EvalArgs& a) {
  model::Model m = io::load_model(a.model);
  auto tok = open_tokenizer(a.model, a.tokenizer);
  std::string text = eval::read_text(a.ppl_file);
  if (a.max_chars > 0 && static_cast<int64_t>(text.size()) > a.max_chars) text.resize(a.max_chars);
  std::vector<int> stream = tok->encode(text, true);
  if (a.max_tokens > 0 && static_cast<int64_t>(stream.size()) > a.max_tokens) stream.resize(a.max_tokens);
  HESSQ_CHECK(stream.size() >= 2, "{}: the evaluation text gives {} token(s) after BOS; nothing to predict",
              a.ppl_file, stream.size() - 1);
  spdlog::info("{}: {} tokens, windows of {}", a.ppl_file, stream.size(), a.ppl.ctx > 0 ? a.ppl.ctx : m.cfg.max_seq_len);
  eval::PerplexityResult r = eval::perplexity(m, stream, a.ppl);
  if (a.json) {
    nlohmann::ordered_json j = {{"model", a.model},   {"text", a.ppl_file},     {"ppl", r.ppl},
                                {"nll", r.nll},       {"tokens", r.tokens},     {"windows", r.windows},
                                {"ctx", r.ctx},       {"seconds", r.seconds},   {"tokens_per_s", r.tokens_per_s},
                                {"version", HESSQ_VERSION}, {"commit", HESSQ_COMMIT}};
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("PPL {:.4f}  (nll {:.5f}, {} predicted tokens, {} window(s) of {}, {:.0f} tokens/s)\n", r.ppl, r.nll,
               r.tokens, r.windows, r.ctx, r.tokens_per_s);
  }
}

void add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* sub = app.add_subcommand("eval", "Perplexity on a text file: BOS + text, cut into non-overlapping windows");
  sub->add_option("-m,--model", a->model, "llama2.c .bin or HuggingFace model directory")->required();
  sub->add_option("--tokenizer", a->tokenizer, "Tokenizer file (default: the one beside the model)");
  sub->add_option("--ppl", a->ppl_file, "Text file (.txt, or .jsonl with a \"text\" field per line)")->required();
  sub->add_option("--ctx", a->ppl.ctx, "Window length in tokens (default: the model's context)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-tokens", a->max_tokens, "Keep only the first N tokens of the stream (BOS included)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-chars", a->max_chars, "Encode only the first N bytes of the text")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--chunk", a->ppl.chunk, "Tokens per forward call within a window (memory vs speed)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_flag("--json", a->json, "Print a JSON object (ppl, nll, tokens, tokens_per_s, ...) instead of a line");
  sub->footer("Example (stories260K reference: PPL 3.7107):\n  hessq eval --model ../shared/models/stories260K/stories260K.bin "
              "--ppl ../shared/data/tinystories/tinystories_validation_head.txt --max-chars 1500 --ctx 512 --max-tokens 512");
  sub->callback([a] { run_eval(*a); });
}

}  // namespace hessq::cli
