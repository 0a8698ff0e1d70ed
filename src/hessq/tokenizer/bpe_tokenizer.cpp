#include "hessq/tokenizer/bpe_tokenizer.hpp"

#include <algorithm>
#include <queue>
#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"
#include "hessq/tokenizer/byte_level.hpp"

namespace hessq::tokenizer {

BpeTokenizer::BpeTokenizer(BpeConfig c)
    : tokens_(std::move(c.tokens)),
      splitter_(std::move(c.patterns)),
      added_(std::move(c.added)),
      bos_id_(c.bos_id),
      eos_id_(c.eos_id),
      unk_id_(c.unk_id),
      add_bos_(c.add_bos),
      pre_(std::move(c.pre)),
      ignore_merges_(c.ignore_merges),
      add_prefix_space_(c.add_prefix_space) {
  const int n = vocab_size();
  index_.reserve(tokens_.size());
  for (int id = 0; id < n; ++id)
    if (!tokens_[id].empty()) index_.emplace(tokens_[id], id);  // the first id wins for duplicates
  for (int id : {bos_id_, eos_id_, unk_id_})
    HESSQ_CHECK(id >= -1 && id < n, "special token id {} outside the vocabulary of {} tokens", id, n);
  kind_.assign(n, Kind::kBpe);
  for (const SpecialToken& t : added_) {
    HESSQ_CHECK(t.id >= 0 && t.id < n, "added token '{}' has id {}, outside the vocabulary of {} tokens", t.text,
                t.id, n);
    kind_[t.id] = t.control ? Kind::kControl : Kind::kAdded;
  }
  for (int b = 0; b < 256; ++b) byte_ids_[b] = token_id(bytes_to_unicode(std::string(1, static_cast<char>(b))));

  size_t skipped = 0;
  merges_.reserve(c.merges.size());
  for (size_t rank = 0; rank < c.merges.size(); ++rank) {
    const auto& [a, b] = c.merges[rank];
    int ia = token_id(a), ib = token_id(b), im = token_id(a + b);
    if (ia < 0 || ib < 0 || im < 0) {
      ++skipped;
      continue;
    }
    merges_.emplace(pair_key(ia, ib), Merge{static_cast<int>(rank), im});  // keeps the first rank
  }
  if (skipped) spdlog::warn("BPE: skipped {} merges whose parts or result are not in the vocabulary", skipped);
}

int BpeTokenizer::token_id(std::string_view text) const {
  auto it = index_.find(text);
  return it == index_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_word(std::string_view bytes, std::vector<int>& ids) const {
  if (ignore_merges_) {
    if (int id = token_id(bytes_to_unicode(bytes)); id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  // One symbol per byte, in a linked list; merged-away symbols get id -2.
  struct Symbol {
    int id, prev, next;
  };
  std::vector<Symbol> sym(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i)
    sym[i] = {byte_ids_[static_cast<uint8_t>(bytes[i])], static_cast<int>(i) - 1,
              i + 1 == bytes.size() ? -1 : static_cast<int>(i) + 1};

  struct Bigram {
    int rank, left, right, left_id, right_id;
    bool operator<(const Bigram& o) const {  // max-heap on priority: lowest rank, then leftmost
      return rank > o.rank || (rank == o.rank && left > o.left);
    }
  };
  std::priority_queue<Bigram> queue;
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0 || sym[l].id < 0 || sym[r].id < 0) return;
    auto it = merges_.find(pair_key(sym[l].id, sym[r].id));
    if (it != merges_.end()) queue.push({it->second.rank, l, r, sym[l].id, sym[r].id});
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    if (l.next != b.right || l.id != b.left_id || r.id != b.right_id) continue;  // stale
    l.id = merges_.at(pair_key(b.left_id, b.right_id)).merged;
    r.id = -2;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) {
    if (sym[i].id >= 0) ids.push_back(sym[i].id);
    else if (unk_id_ >= 0) ids.push_back(unk_id_);  // a byte the vocabulary lacks
  }
}

std::vector<int> BpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  if (add_bos && add_bos_ && bos_id_ >= 0) ids.push_back(bos_id_);
  for (const Fragment& f : split_specials(text, added_)) {
    if (f.id >= 0) {
      ids.push_back(f.id);
      continue;
    }
    std::string prefixed;
    std::string_view raw = f.text;
    if (add_prefix_space_ && raw[0] != ' ') raw = prefixed = prepend_space(raw);
    for (std::string_view word : splitter_.split(raw)) encode_word(word, ids);
  }
  return ids;
}

std::string BpeTokenizer::decode_piece(int /*prev*/, int id) const {
  HESSQ_CHECK(id >= 0 && id < vocab_size(), "token id {} out of range [0, {})", id, vocab_size());
  switch (kind_[id]) {
    case Kind::kControl: return {};
    case Kind::kAdded: return tokens_[id];
    default: return unicode_to_bytes(tokens_[id]);
  }
}

GgufVocab BpeTokenizer::gguf_vocab() const {
  GgufVocab v;
  v.model = "gpt2";
  v.pre = pre_;
  v.tokens = tokens_;
  for (Kind k : kind_)
    v.types.push_back(static_cast<int32_t>(k == Kind::kControl ? TokenType::kControl
                                           : k == Kind::kAdded ? TokenType::kUserDefined
                                                               : TokenType::kNormal));
  std::vector<std::pair<int, uint64_t>> ranked;  // merges in rank order (skipped ones are gone)
  for (const auto& [key, m] : merges_) ranked.emplace_back(m.rank, key);
  std::sort(ranked.begin(), ranked.end());
  for (const auto& [rank, key] : ranked)
    v.merges.push_back(tokens_[key >> 32] + " " + tokens_[static_cast<uint32_t>(key)]);
  v.bos_id = bos_id_, v.eos_id = eos_id_, v.unk_id = unk_id_;
  v.add_bos = add_bos_;
  return v;
}

}  // namespace hessq::tokenizer
