// hessq eval: perplexity of a model on a text file (non-overlapping windows) and zero-shot multiple
// choice (PIQA). Float checkpoints and .hessq quantized models are evaluated the same way.
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "hessq/cli/common.hpp"
#include "hessq/commit.hpp"
#include "hessq/core/error.hpp"
#include "hessq/eval/logits.hpp"
#include "hessq/eval/perplexity.hpp"
#include "hessq/eval/tasks.hpp"
#include "hessq/eval/text.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/npy.hpp"

namespace hessq::cli {

static constexpr const char* kDefaultPiqa = "../shared/data/piqa/valid.jsonl";

struct EvalArgs {
  std::string model, tokenizer, ppl_file, piqa_file, piqa_labels, logits_out, tokens_out;
  std::vector<std::string> tasks;
  int64_t max_tokens = 0;
  int64_t max_chars = 0;
  int64_t skip_chars = 0;
  int64_t limit = 0;
  bool json = false;
  eval::PerplexityOptions ppl;
};

// Drops the first n bytes, then any UTF-8 continuation bytes so the text starts on a character.
static void skip_prefix(std::string& text, int64_t n, const std::string& file) {
  HESSQ_CHECK(n < static_cast<int64_t>(text.size()), "{}: --skip-chars {} skips the whole text ({} bytes)", file, n,
              text.size());
  size_t at = static_cast<size_t>(n);
  while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
  text.erase(0, at);
}

static void write_tokens(const std::string& path, const std::vector<int>& stream) {
  const std::vector<int32_t> ids(stream.begin(), stream.end());
  io::write_npy(path, ids.data(), {static_cast<int64_t>(ids.size())});
  spdlog::info("wrote {} ({} token ids)", path, ids.size());
}

// The logits at every position of the stream, which must fit one window: the forward pass another
// implementation can be compared with on the same ids (scripts/check-hf-reference).
static nlohmann::ordered_json write_logits(const std::string& path, const model::Model& m, const std::vector<int>& stream,
                                           const eval::PerplexityOptions& po) {
  const int ctx = po.ctx > 0 ? po.ctx : m.cfg.max_seq_len;
  HESSQ_CHECK(static_cast<int64_t>(stream.size()) <= ctx,
              "--logits-out: the text gives {} tokens, more than one window of {}; lower --max-tokens", stream.size(),
              ctx);
  const std::vector<float> logits = eval::sequence_logits(m, stream, po.chunk);
  const int64_t n = static_cast<int64_t>(stream.size());
  io::write_npy(path, logits.data(), {n, m.cfg.vocab_size});
  spdlog::info("wrote {} ({} x {} logits)", path, n, m.cfg.vocab_size);
  return {{"file", path}, {"tokens", n}, {"vocab", m.cfg.vocab_size}};
}

static void run_eval(const EvalArgs& a) {
  std::string piqa = a.piqa_file;
  for (const std::string& t : a.tasks) {
    HESSQ_CHECK(t == "piqa", "--tasks: unknown task '{}' (known: piqa)", t);
    if (piqa.empty()) piqa = kDefaultPiqa;
  }
  // A usage error (exit 2): nothing to evaluate.
  if (a.ppl_file.empty() && piqa.empty()) throw CLI::RequiredError("--ppl FILE (or --tasks piqa / --piqa FILE)");
  if (a.ppl_file.empty() && !(a.logits_out.empty() && a.tokens_out.empty()))
    throw CLI::RequiredError("--ppl FILE (the text of --logits-out / --tokens-out)");
  model::Model m = io::load_model(a.model);
  auto tok = open_tokenizer(a.model, a.tokenizer);
  nlohmann::ordered_json j = {{"model", a.model}};

  if (!a.ppl_file.empty()) {
    std::string text = eval::read_text(a.ppl_file);
    if (a.skip_chars > 0) skip_prefix(text, a.skip_chars, a.ppl_file);
    if (a.max_chars > 0 && static_cast<int64_t>(text.size()) > a.max_chars) text.resize(a.max_chars);
    std::vector<int> stream = tok->encode(text, true);
    if (a.max_tokens > 0 && static_cast<int64_t>(stream.size()) > a.max_tokens) stream.resize(a.max_tokens);
    HESSQ_CHECK(stream.size() >= 2, "{}: the evaluation text gives {} token(s) after BOS; nothing to predict",
                a.ppl_file, stream.size() - 1);
    spdlog::info("{}: {} tokens, windows of {}", a.ppl_file, stream.size(), a.ppl.ctx > 0 ? a.ppl.ctx : m.cfg.max_seq_len);
    if (!a.tokens_out.empty()) write_tokens(a.tokens_out, stream);
    if (!a.logits_out.empty()) j["logits"] = write_logits(a.logits_out, m, stream, a.ppl);
    eval::PerplexityResult r = eval::perplexity(m, stream, a.ppl);
    j.update(nlohmann::ordered_json{{"text", a.ppl_file},  {"skip_chars", a.skip_chars}, {"ppl", r.ppl},
                                    {"nll", r.nll},        {"tokens", r.tokens},         {"windows", r.windows},
                                    {"ctx", r.ctx},        {"seconds", r.seconds},       {"tokens_per_s", r.tokens_per_s}});
    if (!a.json)
      fmt::print("PPL {:.4f}  (nll {:.5f}, {} predicted tokens, {} window(s) of {}, {:.0f} tokens/s)\n", r.ppl, r.nll,
                 r.tokens, r.windows, r.ctx, r.tokens_per_s);
  }
  if (!piqa.empty()) {
    const std::string labels = a.piqa_labels.empty() ? eval::piqa_labels_path(piqa) : a.piqa_labels;
    const std::vector<eval::McItem> items = eval::read_piqa(piqa, labels);
    eval::McOptions mo;
    mo.limit = a.limit;
    const eval::McResult r = eval::score_multiple_choice(m, *tok, items, mo);
    j["tasks"]["piqa"] = {{"file", piqa},           {"n", r.n},
                          {"acc", r.acc},           {"acc_stderr", r.acc_stderr},
                          {"acc_norm", r.acc_norm}, {"acc_norm_stderr", r.acc_norm_stderr},
                          {"seconds", r.seconds}};
    if (!a.json)
      fmt::print("PIQA acc {:.4f} ± {:.4f}  acc_norm {:.4f} ± {:.4f}  ({} items)\n", r.acc, r.acc_stderr, r.acc_norm,
                 r.acc_norm_stderr, r.n);
  }
  j["version"] = HESSQ_VERSION;
  j["commit"] = HESSQ_COMMIT;
  if (a.json) fmt::print("{}\n", j.dump(2));
}

void add_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* sub = app.add_subcommand("eval", "Perplexity on a text file (BOS + text, non-overlapping windows) and PIQA accuracy");
  sub->add_option("-m,--model", a->model, "llama2.c .bin, HuggingFace model directory, .gguf (dequantized) or .hessq directory")->required();
  sub->add_option("--tokenizer", a->tokenizer, "Tokenizer file (default: the one beside the model)");
  sub->add_option("--ppl", a->ppl_file, "Text file (.txt, or .jsonl with a \"text\" field per line)");
  sub->add_option("--ctx", a->ppl.ctx, "Window length in tokens (default: the model's context)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-tokens", a->max_tokens, "Keep only the first N tokens of the stream (BOS included)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--skip-chars", a->skip_chars,
                  "Drop the first N bytes of the text before encoding (evaluate on text disjoint from a calibration "
                  "prefix, see quantize --calib-max-chars)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--max-chars", a->max_chars, "Encode only the first N bytes of the text (after --skip-chars)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--chunk", a->ppl.chunk, "Tokens per forward call within a window (memory vs speed)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--tasks", a->tasks, "Zero-shot tasks: piqa (default file " + std::string(kDefaultPiqa) + ")")
      ->delimiter(',');
  sub->add_option("--piqa", a->piqa_file, "PIQA jsonl (goal, sol1, sol2); labels from <stem>-labels.lst");
  sub->add_option("--piqa-labels", a->piqa_labels, "PIQA labels file (default: beside --piqa)");
  sub->add_option("--limit", a->limit, "Score only the first N task items")->check(CLI::NonNegativeNumber);
  sub->add_option("--logits-out", a->logits_out,
                  "Write the logits at every position of the --ppl token stream (one window: at most --ctx tokens) "
                  "as float32 .npy [tokens, vocab]");
  sub->add_option("--tokens-out", a->tokens_out, "Write the --ppl token stream's ids (BOS first) as int32 .npy [tokens]");
  sub->add_flag("--json", a->json, "Print a JSON object (ppl, nll, tokens, tasks.piqa.acc, ...) instead of lines");
  sub->footer("Example (stories260K reference: PPL 3.7107):\n  hessq eval --model ../shared/models/stories260K/stories260K.bin "
              "--ppl ../shared/data/tinystories/tinystories_validation_head.txt --max-chars 1500 --ctx 512 --max-tokens 512\n"
              "PIQA: hessq eval --model M --piqa ../shared/data/piqa/valid.jsonl --limit 200");
  sub->callback([a] { run_eval(*a); });
}

}  // namespace hessq::cli
