// stories260K with a few short calibration windows from the TinyStories file: small enough that a
// whole-model quantization takes well under a second.
#pragma once
#include <string>

#include <gtest/gtest.h>

#include "hessq/calib/windows.hpp"
#include "hessq/eval/text.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/model/transformer.hpp"
#include "hessq/tokenizer/tokenizer.hpp"
#include "test_util.hpp"

namespace hessq::test {

struct Stories {
  model::Model m = io::load_model(stories_bin());
  std::unique_ptr<tokenizer::Tokenizer> tok = tokenizer::load_tokenizer(stories_tok());

  // 4 windows of 128 tokens for calibration, 2 held out, from the start of the TinyStories file.
  calib::Windows windows(int64_t tokens = 512, int window = 128, int64_t heldout = 256) const {
    std::string text = eval::read_text(shared_path("data/tinystories/tinystories_validation_head.txt"));
    text.resize(20000);
    return calib::make_windows(tok->encode(text, true), {window, tokens, heldout}, "tinystories");
  }
};

// All logits of `m` on `tokens` ([n, vocab]).
inline std::vector<float> logits_of(const model::Model& m, const std::vector<int>& tokens) {
  model::Transformer tr(m, static_cast<int>(tokens.size()));
  const float* l = tr.forward(tokens.data(), static_cast<int>(tokens.size()), true);
  return std::vector<float>(l, l + tokens.size() * static_cast<size_t>(m.cfg.vocab_size));
}

}  // namespace hessq::test
