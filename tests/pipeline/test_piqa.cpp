// Zero-shot multiple choice in the PIQA format on stories260K: a hand-made item with an obvious
// answer, scores against token-by-token decoding, and file errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "hessq/core/error.hpp"
#include "hessq/eval/perplexity.hpp"
#include "hessq/eval/tasks.hpp"
#include "pipeline/stories_fixture.hpp"

namespace hessq::eval {

using test::Stories;

// Prefill (GEMM) and one-token decode (GEMV) sum in different orders: float logits agree to ~1e-5
// relative; a few dozen tokens of log-probs then agree to 1e-3 nats.
constexpr double kLogprobTol = 1e-3;

static void write_lines(const std::filesystem::path& p, const std::vector<std::string>& lines) {
  std::ofstream f(p);
  for (const auto& l : lines) f << l << "\n";
}

TEST(Piqa, ObviousAnswersAreChosen) {
  Stories s;
  const auto dir = test::scratch_dir();
  write_lines(dir / "t.jsonl",
              {R"({"goal": "Once upon a time, there was a little", "sol1": "girl named Lily. She loved to play.", "sol2": "qzx vbk jjw pfft zzq."})",
               R"({"goal": "One day, Tom went to the", "sol1": "xqz wvv kkp ffq.", "sol2": "park with his mom. They played."})"});
  write_lines(dir / "t-labels.lst", {"0", "1"});
  EXPECT_EQ(piqa_labels_path((dir / "t.jsonl").string()), (dir / "t-labels.lst").string());
  const std::vector<McItem> items = read_piqa((dir / "t.jsonl").string(), (dir / "t-labels.lst").string());
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].context, "Question: Once upon a time, there was a little\nAnswer:");
  McOptions opt;
  opt.progress = false;
  const McResult r = score_multiple_choice(s.m, *s.tok, items, opt);
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.pred, (std::vector<int>{0, 1}));
  EXPECT_DOUBLE_EQ(r.acc, 1.0);
  EXPECT_DOUBLE_EQ(r.acc_norm, 1.0);
  opt.limit = 1;
  EXPECT_EQ(score_multiple_choice(s.m, *s.tok, items, opt).n, 1);
}

// The score is the continuation's log-likelihood: recompute it by decoding one token at a time.
TEST(Piqa, ScoreIsTheContinuationLogLikelihood) {
  Stories s;
  const McItem item = piqa_item("How do you make a cake?", "Mix flour and eggs, then bake it.", "Eat a café.", 0);
  const std::vector<ChoiceScore> sc = score_choices(s.m, *s.tok, item, " ");
  ASSERT_EQ(sc.size(), 2u);
  EXPECT_EQ(sc[1].chars, 11);  // "Eat a café." is 11 code points (12 bytes)
  for (int c = 0; c < 2; ++c) {
    const std::vector<int> whole = s.tok->encode(item.context + " " + item.choices[c], true);
    const size_t split = s.tok->encode(item.context, true).size();
    model::Transformer tr(s.m);
    double lp = 0;
    for (size_t t = 0; t + 1 < whole.size(); ++t) {
      const float* logits = tr.forward(&whole[t], 1, false);
      if (t + 1 >= split) lp -= token_nll(logits, s.m.cfg.vocab_size, whole[t + 1]);
    }
    EXPECT_EQ(sc[c].tokens, static_cast<int>(whole.size() - split));
    EXPECT_NEAR(sc[c].logprob, lp, kLogprobTol);
    EXPECT_LT(sc[c].logprob, 0);
  }
}

// A choice longer than the context: left-truncated, its last ctx - 1 tokens scored.
TEST(Piqa, LongChoicesAreTruncatedFromTheLeft) {
  Stories s;
  std::string long_choice;
  for (int i = 0; i < 300; ++i) long_choice += "the cat sat. ";
  const McItem item = piqa_item("What happened?", long_choice, "The end.", 0);
  const std::vector<ChoiceScore> sc = score_choices(s.m, *s.tok, item, " ");
  EXPECT_EQ(sc[0].tokens, s.m.cfg.max_seq_len - 1);
  EXPECT_TRUE(std::isfinite(sc[0].logprob));
}

TEST(Piqa, FileErrors) {
  const auto dir = test::scratch_dir();
  write_lines(dir / "t.jsonl", {R"({"goal": "g", "sol1": "a", "sol2": "b"})", R"({"goal": "g", "sol1": "a"})"});
  write_lines(dir / "t-labels.lst", {"0", "1"});
  try {
    read_piqa((dir / "t.jsonl").string(), (dir / "t-labels.lst").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.jsonl:2: expected a JSON object with string fields"), std::string::npos)
        << e.what();
  }
  write_lines(dir / "t.jsonl", {R"({"goal": "g", "sol1": "a", "sol2": "b"})"});
  write_lines(dir / "t-labels.lst", {"2"});
  EXPECT_THROW(read_piqa((dir / "t.jsonl").string(), (dir / "t-labels.lst").string()), Error);
  write_lines(dir / "t-labels.lst", {"0", "1"});
  EXPECT_THROW(read_piqa((dir / "t.jsonl").string(), (dir / "t-labels.lst").string()), Error);
}

}  // namespace hessq::eval
