#include "hessq/runtime/generate.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/model/transformer.hpp"

namespace hessq::runtime {

GenerateResult generate(const model::Model& m, const tokenizer::Tokenizer& tok, const std::string& prompt,
                        const GenerateOptions& opt, const std::function<void(const std::string&)>& on_text) {
  using clock = std::chrono::steady_clock;
  GenerateResult r;
  r.prompt = tok.encode(prompt, true);
  HESSQ_CHECK(!r.prompt.empty(), "the prompt encodes to no tokens");
  const int ctx = m.cfg.max_seq_len;
  HESSQ_CHECK(static_cast<int>(r.prompt.size()) < ctx, "the prompt is {} tokens, the model's context is {}",
              r.prompt.size(), ctx);
  model::Transformer tr(m);
  Sampler sampler(opt.sampler);
  auto t0 = clock::now();
  const float* logits = tr.forward(r.prompt.data(), static_cast<int>(r.prompt.size()), false);
  auto t1 = clock::now();
  r.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  int prev = r.prompt.back();
  bool warned = false;
  for (int i = 0; i < opt.max_tokens; ++i) {
    const int next = sampler.sample(logits, m.cfg.vocab_size);
    if (next == tok.eos_id() || next == tok.bos_id()) break;
    r.generated.push_back(next);
    // A model's embedding table can be padded past the tokenizer's vocabulary (Qwen, synthetic
    // checkpoints); such ids have no text.
    if (next >= tok.vocab_size()) {
      if (!warned) spdlog::warn("token id {} is past the tokenizer's {} tokens: it has no text", next, tok.vocab_size());
      warned = true;
    } else if (on_text) {
      on_text(tok.decode_piece(prev, next));
    }
    prev = next;
    if (tr.pos() >= ctx) break;
    logits = tr.forward(&next, 1, false);
  }
  r.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return r;
}

}  // namespace hessq::runtime
