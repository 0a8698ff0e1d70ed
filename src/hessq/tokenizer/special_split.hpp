// Splitting text at literal special/added tokens ("<|endoftext|>", user-defined pieces) before the
// model's own pre-tokenization: the leftmost occurrence wins, the longest one on ties.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace hessq::tokenizer {

struct SpecialToken {
  std::string text;
  int id;
  bool control = false;  // a control token (BOS, EOS, <|im_start|>): decodes to nothing
};

struct Fragment {
  std::string_view text;  // raw text (id == -1) or the special token's text
  int id = -1;            // the special token's id, -1 for raw text
};

// Raw fragments are never empty; with no specials the result is the whole text (if non-empty).
std::vector<Fragment> split_specials(std::string_view text, const std::vector<SpecialToken>& specials);

}  // namespace hessq::tokenizer
