// The logits at every position of one token sequence (one window, from an empty KV cache), for
// comparing hessq's forward pass with another implementation's (`hessq eval --logits-out`).
#pragma once
#include <vector>

#include "hessq/model/model.hpp"

namespace hessq::eval {

// Row t ([tokens.size(), vocab], C order) is the distribution over the token after tokens[0..t].
// The sequence runs through the KV cache `chunk` tokens per forward call, so memory beyond the result
// is bounded; the logits do not depend on the chunk beyond fp32 summation order. Throws if the
// sequence is empty or longer than the model's context.
std::vector<float> sequence_logits(const model::Model& model, const std::vector<int>& tokens, int chunk = 256);

}  // namespace hessq::eval
