#include "hessq/tokenizer/special_split.hpp"

namespace hessq::tokenizer {

std::vector<Fragment> split_specials(std::string_view text, const std::vector<SpecialToken>& specials) {
  std::vector<Fragment> out;
  // next[i]: position of the next occurrence of specials[i] at or after `pos` (npos if none), kept
  // between steps so each token's occurrences are searched once overall.
  std::vector<size_t> next(specials.size());
  for (size_t i = 0; i < specials.size(); ++i)
    next[i] = specials[i].text.empty() ? std::string_view::npos : text.find(specials[i].text);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    int best_id = -1;
    for (size_t i = 0; i < specials.size(); ++i) {
      const std::string& s = specials[i].text;
      if (next[i] != std::string_view::npos && next[i] < pos) next[i] = text.find(s, pos);
      if (next[i] < best || (next[i] == best && next[i] != std::string_view::npos && s.size() > best_len)) {
        best = next[i];
        best_len = s.size();
        best_id = specials[i].id;
      }
    }
    if (best == std::string_view::npos) break;
    if (best > pos) out.push_back({text.substr(pos, best - pos), -1});
    out.push_back({text.substr(best, best_len), best_id});
    pos = best + best_len;
  }
  if (pos < text.size()) out.push_back({text.substr(pos), -1});
  return out;
}

}  // namespace hessq::tokenizer
