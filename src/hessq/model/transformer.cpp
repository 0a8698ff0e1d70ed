#include "hessq/model/transformer.hpp"

#include <algorithm>
#include <cstring>

#include "hessq/core/error.hpp"

namespace hessq::model {

Transformer::Transformer(const Model& model, int max_ctx)
    : m_(model), max_ctx_(max_ctx > 0 ? max_ctx : model.cfg.max_seq_len), rope_(model.cfg),
      cache_(static_cast<size_t>(model.cfg.n_layers)) {}

void Transformer::reset() {
  pos_ = 0;
  for (LayerCache& c : cache_) c.clear();
}

const float* Transformer::forward(const int* tokens, int n, bool all_logits) {
  const ModelConfig& c = m_.cfg;
  HESSQ_CHECK(n > 0, "forward: no tokens");
  HESSQ_CHECK(pos_ + n <= max_ctx_, "forward: {} tokens at position {} exceed the context of {} tokens", n, pos_,
              max_ctx_);
  const int d = c.dim;
  const size_t N = static_cast<size_t>(n);
  ForwardProfile* profile = scratch_.profile;
  x_.resize(N * d);
  {
    const ProfileScope timer(profile, ForwardProfile::Embedding);
    for (int t = 0; t < n; ++t) {
      HESSQ_CHECK(tokens[t] >= 0 && tokens[t] < c.vocab_size, "token id {} out of range [0, {})", tokens[t],
                  c.vocab_size);
      embedding_row(m_, tokens[t], &x_[t * d]);
    }
  }
  const int last = stop_after_ >= 0 ? std::min(stop_after_, c.n_layers - 1) : c.n_layers - 1;
  for (int l = 0; l <= last; ++l)
    block_forward(c, m_.layers[l], l, x_.data(), n, pos_, cache_[l], rope_, scratch_, hook_);
  pos_ += n;
  if (last < c.n_layers - 1) return nullptr;

  const int rows = all_logits ? n : 1;
  const float* first = all_logits ? x_.data() : &x_[(N - 1) * d];
  xb_.resize(static_cast<size_t>(rows) * d);
  {
    const ProfileScope timer(profile, ForwardProfile::Norms);
    rms_norm(xb_.data(), first, m_.final_norm.ptr(), rows, d, c.norm_eps);
  }
  logits_.resize(static_cast<size_t>(rows) * c.vocab_size);
  const ProfileScope timer(profile, ForwardProfile::Head);
  m_.lm_head->forward(xb_.data(), rows, logits_.data());
  return logits_.data();
}

}  // namespace hessq::model
