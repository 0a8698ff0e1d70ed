// Perplexity over non-overlapping windows: the token stream is cut into windows of `ctx` tokens; in
// each window every token after the first is predicted from the earlier tokens of that window;
// PPL = exp(mean NLL over all predicted tokens).
#pragma once
#include <cstdint>
#include <vector>

#include "hessq/model/model.hpp"

namespace hessq::eval {

struct PerplexityOptions {
  int ctx = 0;        // window length; 0 = the model's context length
  int chunk = 256;    // tokens per forward call within a window (bounds logits memory)
  bool progress = true;
};

struct PerplexityResult {
  double ppl = 0;
  double nll = 0;       // mean negative log-likelihood per predicted token (nats)
  int64_t tokens = 0;   // predicted tokens
  int windows = 0;
  int ctx = 0;
  double seconds = 0;
  double tokens_per_s = 0;  // tokens run through the model per second
};

// `stream` is the full token stream (BOS first, already truncated). Throws if it has < 2 tokens or
// ctx exceeds the model's context.
PerplexityResult perplexity(const model::Model& model, const std::vector<int>& stream, const PerplexityOptions& opt);

// Negative log-likelihood (nats) of `target` under softmax(logits[0..V)), computed in double.
double token_nll(const float* logits, int V, int target);

}  // namespace hessq::eval
