// Zero-shot multiple choice (METHODS.md "Evaluation"), scored like lm-evaluation-harness: each
// choice's score is the sum of the log-probs of its continuation tokens given the context,
//   continuation = delimiter + choice, split off as lm-eval does: whole = encode(BOS + context +
//   continuation), the continuation tokens are whole[len(encode(BOS + context)):];
// acc picks the highest sum, acc_norm the highest sum / len(choice) with len in Unicode code points
// of the choice text without the delimiter (lm-eval's completion_len). Ties go to the first choice.
// Sequences longer than the model's context keep their last `ctx` tokens (a continuation longer
// than that is scored on its last ctx - 1 tokens, as lm-eval's left truncation does).
//
// PIQA (Bisk et al. 2020, arXiv 1911.11641): valid.jsonl ({"goal", "sol1", "sol2"}) and
// valid-labels.lst (0 or 1 per line), with lm-eval's template
//   context = "Question: {goal}\nAnswer:", choices = [sol1, sol2], delimiter " ".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hessq/model/model.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

namespace hessq::eval {

struct McItem {
  std::string context;
  std::vector<std::string> choices;
  int label = -1;  // index of the right choice
};

struct ChoiceScore {
  double logprob = 0;  // sum of log p(continuation token | prefix), nats
  int tokens = 0;      // continuation tokens scored
  int64_t chars = 0;   // code points of the choice (acc_norm's divisor)
};

struct McOptions {
  std::string delimiter = " ";
  int64_t limit = 0;  // score only the first N items (0: all)
  bool progress = true;
};

struct McResult {
  int64_t n = 0;
  double acc = 0, acc_norm = 0;
  double acc_stderr = 0, acc_norm_stderr = 0;  // sqrt(p (1 - p) / (n - 1)), as lm-eval
  double seconds = 0;
  std::vector<int> pred, pred_norm;  // per item
};

// Scores every choice of `item` with the model (one forward per choice).
std::vector<ChoiceScore> score_choices(const model::Model& m, const tokenizer::Tokenizer& tok, const McItem& item,
                                       const std::string& delimiter);
McResult score_multiple_choice(const model::Model& m, const tokenizer::Tokenizer& tok, const std::vector<McItem>& items,
                               const McOptions& opt);

// "dir/valid.jsonl" -> "dir/valid-labels.lst".
std::string piqa_labels_path(const std::string& jsonl);
// Throws naming the file and line on a malformed line, a bad label, or a count mismatch.
std::vector<McItem> read_piqa(const std::string& jsonl, const std::string& labels);
McItem piqa_item(const std::string& goal, const std::string& sol1, const std::string& sol2, int label);

}  // namespace hessq::eval
