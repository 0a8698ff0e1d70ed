#include "hessq/eval/perplexity.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/model/transformer.hpp"

namespace hessq::eval {

double token_nll(const float* logits, int V, int target) {
  const float mx = *std::max_element(logits, logits + V);
  double sum = 0;
  for (int i = 0; i < V; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  return std::log(sum) + mx - logits[target];
}

PerplexityResult perplexity(const model::Model& m, const std::vector<int>& stream, const PerplexityOptions& opt) {
  const int ctx = opt.ctx > 0 ? opt.ctx : m.cfg.max_seq_len;
  HESSQ_CHECK(ctx <= m.cfg.max_seq_len, "--ctx {} is longer than the model's context of {} tokens", ctx,
              m.cfg.max_seq_len);
  HESSQ_CHECK(ctx >= 2, "--ctx {}: a window needs at least 2 tokens", ctx);
  HESSQ_CHECK(stream.size() >= 2, "evaluation text gives {} token(s); at least 2 are needed", stream.size());

  const int64_t total = static_cast<int64_t>(stream.size());
  const int n_windows = static_cast<int>((total + ctx - 1) / ctx);
  const int V = m.cfg.vocab_size;
  model::Transformer tr(m, ctx);
  PerplexityResult r;
  r.ctx = ctx;
  double nll_sum = 0;
  int64_t forwarded = 0;
  const auto t0 = std::chrono::steady_clock::now();
  Progress progress("perplexity", n_windows);
  for (int w = 0; w < n_windows; ++w) {
    const int64_t begin = static_cast<int64_t>(w) * ctx;
    const int len = static_cast<int>(std::min<int64_t>(ctx, total - begin));
    if (len < 2) continue;  // a trailing single token predicts nothing
    tr.reset();
    // Each chunk's logits predict the token after each of its positions, within the window.
    for (int c = 0; c < len - 1; c += opt.chunk) {
      const int n = std::min(opt.chunk, len - 1 - c);
      const float* logits = tr.forward(&stream[begin + c], n, true);
      for (int t = 0; t < n; ++t) nll_sum += token_nll(logits + static_cast<size_t>(t) * V, V, stream[begin + c + t + 1]);
      forwarded += n;
    }
    r.tokens += len - 1;
    ++r.windows;
    if (opt.progress) progress.advance();
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.nll = nll_sum / static_cast<double>(r.tokens);
  r.ppl = std::exp(r.nll);
  r.tokens_per_s = r.seconds > 0 ? forwarded / r.seconds : 0;
  return r;
}

}  // namespace hessq::eval
