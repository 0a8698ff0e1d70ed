#include "hessq/eval/tasks.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hessq/core/error.hpp"
#include "hessq/core/progress.hpp"
#include "hessq/eval/perplexity.hpp"
#include "hessq/model/transformer.hpp"

namespace hessq::eval {

static int64_t code_points(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count every byte that does not continue a character
  return n;
}

std::vector<ChoiceScore> score_choices(const model::Model& m, const tokenizer::Tokenizer& tok, const McItem& item,
                                       const std::string& delimiter) {
  const int ctx = m.cfg.max_seq_len, V = m.cfg.vocab_size;
  const size_t n_context = tok.encode(item.context, true).size();
  struct Seq {
    std::vector<int> whole;
    size_t split = 0;  // first continuation token
  };
  std::vector<Seq> seqs;
  size_t longest = 0;
  for (const std::string& choice : item.choices) {
    Seq q{tok.encode(item.context + delimiter + choice, true), 0};
    HESSQ_CHECK(q.whole.size() >= 2, "choice '{}' encodes to no tokens", choice);
    // At least one continuation token, and a prefix (BOS) to predict it from.
    q.split = std::clamp<size_t>(n_context, 1, q.whole.size() - 1);
    if (static_cast<int>(q.whole.size()) > ctx) {  // keep the last ctx tokens
      const size_t drop = q.whole.size() - ctx;
      q.whole.erase(q.whole.begin(), q.whole.begin() + static_cast<std::ptrdiff_t>(drop));
      // A continuation longer than the window: only its last ctx - 1 tokens can be predicted.
      q.split = q.split > drop ? q.split - drop : 1;
    }
    longest = std::max(longest, q.whole.size());
    seqs.push_back(std::move(q));
  }
  model::Transformer tr(m, static_cast<int>(longest));  // a KV cache just long enough
  std::vector<ChoiceScore> out;
  for (size_t c = 0; c < seqs.size(); ++c) {
    const std::vector<int>& whole = seqs[c].whole;
    const int len = static_cast<int>(whole.size()), split = static_cast<int>(seqs[c].split);
    tr.reset();
    const float* logits = tr.forward(whole.data(), len - 1, true);  // logits[t] predicts whole[t + 1]
    ChoiceScore s;
    for (int t = split; t < len; ++t) s.logprob -= token_nll(logits + static_cast<size_t>(t - 1) * V, V, whole[t]);
    s.tokens = len - split;
    s.chars = code_points(item.choices[c]);
    out.push_back(s);
  }
  return out;
}

McResult score_multiple_choice(const model::Model& m, const tokenizer::Tokenizer& tok, const std::vector<McItem>& items,
                               const McOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t n = opt.limit > 0 ? std::min<int64_t>(opt.limit, static_cast<int64_t>(items.size()))
                                  : static_cast<int64_t>(items.size());
  HESSQ_CHECK(n > 0, "no multiple-choice items to score");
  McResult r;
  r.n = n;
  int64_t right = 0, right_norm = 0;
  Progress progress("tasks", n);
  for (int64_t i = 0; i < n; ++i) {
    const McItem& item = items[i];
    HESSQ_CHECK(item.label >= 0 && item.label < static_cast<int>(item.choices.size()),
                "item {}: label {} is not one of its {} choices", i, item.label, item.choices.size());
    const std::vector<ChoiceScore> s = score_choices(m, tok, item, opt.delimiter);
    int best = 0, best_norm = 0;
    for (int c = 1; c < static_cast<int>(s.size()); ++c) {
      if (s[c].logprob > s[best].logprob) best = c;
      if (s[c].logprob / std::max<int64_t>(s[c].chars, 1) > s[best_norm].logprob / std::max<int64_t>(s[best_norm].chars, 1))
        best_norm = c;
    }
    r.pred.push_back(best);
    r.pred_norm.push_back(best_norm);
    right += best == item.label;
    right_norm += best_norm == item.label;
    if (opt.progress) progress.advance();
  }
  r.acc = static_cast<double>(right) / n;
  r.acc_norm = static_cast<double>(right_norm) / n;
  auto stderr_of = [n](double p) { return n > 1 ? std::sqrt(p * (1 - p) / (n - 1)) : 0.0; };
  r.acc_stderr = stderr_of(r.acc);
  r.acc_norm_stderr = stderr_of(r.acc_norm);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string piqa_labels_path(const std::string& jsonl) {
  const std::string stem = jsonl.ends_with(".jsonl") ? jsonl.substr(0, jsonl.size() - 6) : jsonl;
  return stem + "-labels.lst";
}

McItem piqa_item(const std::string& goal, const std::string& sol1, const std::string& sol2, int label) {
  return McItem{"Question: " + goal + "\nAnswer:", {sol1, sol2}, label};
}

std::vector<McItem> read_piqa(const std::string& jsonl, const std::string& labels) {
  std::ifstream f(jsonl, std::ios::binary), fl(labels, std::ios::binary);
  HESSQ_CHECK(f.good(), "{}: cannot open PIQA file", jsonl);
  HESSQ_CHECK(fl.good(), "{}: cannot open PIQA labels (one 0 or 1 per line)", labels);
  std::vector<McItem> items;
  std::string line;
  for (int lineno = 1; std::getline(f, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    auto field = [&](const char* k) {
      HESSQ_CHECK(!j.is_discarded() && j.is_object() && j.contains(k) && j[k].is_string(),
                  "{}:{}: expected a JSON object with string fields goal, sol1, sol2", jsonl, lineno);
      return j[k].get<std::string>();
    };
    items.push_back(piqa_item(field("goal"), field("sol1"), field("sol2"), -1));
  }
  size_t i = 0;
  for (int lineno = 1; std::getline(fl, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string v = line.substr(0, line.find_last_not_of(" \t\r") + 1);
    HESSQ_CHECK(v == "0" || v == "1", "{}:{}: label must be 0 or 1, got '{}'", labels, lineno, v);
    HESSQ_CHECK(i < items.size(), "{}: more labels than the {} items of {}", labels, items.size(), jsonl);
    items[i++].label = v == "1" ? 1 : 0;
  }
  HESSQ_CHECK(i == items.size(), "{}: {} labels for the {} items of {}", labels, i, items.size(), jsonl);
  HESSQ_CHECK(!items.empty(), "{}: no PIQA items", jsonl);
  return items;
}

}  // namespace hessq::eval
