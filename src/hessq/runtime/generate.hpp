// Text generation: prefill the prompt, then decode token by token through the KV cache.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "hessq/model/model.hpp"
#include "hessq/runtime/sampler.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

namespace hessq::runtime {

struct GenerateOptions {
  int max_tokens = 256;  // new tokens at most; stops earlier at EOS/BOS or the model's context
  SamplerOptions sampler;
};

struct GenerateResult {
  std::vector<int> prompt;     // BOS + encoded prompt
  std::vector<int> generated;  // new tokens
  double prefill_seconds = 0, decode_seconds = 0;
};

// Calls on_text with the decoded text of each new token as it is produced.
GenerateResult generate(const model::Model& model, const tokenizer::Tokenizer& tok, const std::string& prompt,
                        const GenerateOptions& opt, const std::function<void(const std::string&)>& on_text = {});

}  // namespace hessq::runtime
