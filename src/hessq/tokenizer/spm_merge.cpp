#include "hessq/tokenizer/spm_merge.hpp"

#include <algorithm>
#include <queue>

#include "hessq/core/error.hpp"

namespace hessq::tokenizer {

ScoredVocab::ScoredVocab(std::vector<std::string> p, std::vector<float> s)
    : pieces(std::move(p)), scores(std::move(s)) {
  HESSQ_CHECK(pieces.size() == scores.size(), "vocabulary has {} pieces but {} scores", pieces.size(),
              scores.size());
  index.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) index.emplace(pieces[i], static_cast<int>(i));
}

int ScoredVocab::find(std::string_view piece) const {
  auto it = index.find(piece);
  return it == index.end() ? -1 : it->second;
}

namespace {

struct Symbol {
  size_t begin, len;  // byte range in the text; len == 0 once merged into its left neighbour
  int prev, next;     // neighbours in the linked list, -1 at the ends
};

struct Bigram {
  float score;
  int left, right;
  size_t len;  // byte length of the pair when it was queued, to detect stale entries
  bool operator<(const Bigram& o) const {  // max-heap: highest score first, then leftmost
    return score < o.score || (score == o.score && left > o.left);
  }
};

}  // namespace

std::vector<std::string_view> spm_merge(std::string_view text, const ScoredVocab& vocab) {
  std::vector<Symbol> sym;
  for (size_t off = 0; off < text.size();) {
    size_t n = std::min(utf8_len(text[off]), text.size() - off);
    int i = static_cast<int>(sym.size());
    sym.push_back({off, n, i - 1, off + n == text.size() ? -1 : i + 1});
    off += n;
  }

  std::priority_queue<Bigram> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    std::string_view pair = text.substr(sym[left].begin, sym[left].len + sym[right].len);
    int id = vocab.find(pair);
    if (id >= 0) queue.push({vocab.scores[id], left, right, pair.size()});
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  std::vector<std::string_view> out;
  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) out.push_back(text.substr(sym[i].begin, sym[i].len));
  return out;
}

}  // namespace hessq::tokenizer
