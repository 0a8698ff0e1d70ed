#include "hessq/eval/logits.hpp"

#include <algorithm>

#include "hessq/core/error.hpp"
#include "hessq/model/transformer.hpp"

namespace hessq::eval {

std::vector<float> sequence_logits(const model::Model& m, const std::vector<int>& tokens, int chunk) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  HESSQ_CHECK(n >= 1, "sequence_logits: no tokens");
  HESSQ_CHECK(n <= m.cfg.max_seq_len, "{} tokens are more than the model's context of {}", n, m.cfg.max_seq_len);
  HESSQ_CHECK(chunk >= 1, "sequence_logits: chunk {} must be positive", chunk);
  const size_t V = static_cast<size_t>(m.cfg.vocab_size);
  model::Transformer tr(m, static_cast<int>(n));
  std::vector<float> out(static_cast<size_t>(n) * V);
  for (int64_t c = 0; c < n; c += chunk) {
    const int len = static_cast<int>(std::min<int64_t>(chunk, n - c));
    const float* l = tr.forward(&tokens[c], len, true);
    std::copy(l, l + len * V, out.begin() + static_cast<ptrdiff_t>(c * V));
  }
  return out;
}

}  // namespace hessq::eval
