// eval::sequence_logits (hessq eval --logits-out): on stories260K, the rows are the distributions a
// token-by-token decode gives at each position, the chunk does not matter, and the NLL of the text
// computed from them is eval::perplexity's over one window.
#include <gtest/gtest.h>

#include <cmath>

#include "hessq/eval/logits.hpp"
#include "hessq/eval/perplexity.hpp"
#include "hessq/eval/text.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/model/transformer.hpp"
#include "hessq/tokenizer/tokenizer.hpp"
#include "test_util.hpp"

namespace hessq {
namespace {

struct Fixture {
  model::Model m = io::load_model(test::stories_bin());
  std::vector<int> tokens;
  Fixture() {
    const auto tok = tokenizer::load_tokenizer(test::stories_tok());
    std::string text = eval::read_text(test::shared_path("data/tinystories/tinystories_validation_head.txt"));
    text.resize(600);
    tokens = tok->encode(text, true);
  }
};

// Decode (GEMV, one token per call) is an independent path through the same weights: it agrees with
// every row to 1e-4, the bound test_model's PrefillMatchesDecode uses for the same model (logits of
// magnitude <= ~20, fp32 sums of 64-512 terms summed in another order).
TEST(SequenceLogits, RowsAreTheDecodeDistributions) {
  const Fixture f;
  const int n = static_cast<int>(f.tokens.size()), V = f.m.cfg.vocab_size;
  ASSERT_GT(n, 100);
  const std::vector<float> all = eval::sequence_logits(f.m, f.tokens, 64);
  ASSERT_EQ(all.size(), static_cast<size_t>(n) * V);
  model::Transformer decode(f.m);
  for (int t = 0; t < n; ++t) {
    const float* d = decode.forward(&f.tokens[t], 1, false);
    for (int i = 0; i < V; ++i) ASSERT_NEAR(d[i], all[static_cast<size_t>(t) * V + i], 1e-4f) << t << " " << i;
  }
  // Another chunk only changes which rows share a GEMM: same bound.
  const std::vector<float> one = eval::sequence_logits(f.m, f.tokens, 1000);
  for (size_t i = 0; i < all.size(); ++i) ASSERT_NEAR(one[i], all[i], 1e-4f) << i;
}

// Mean NLL of tokens[1..n) from rows 0..n-2 equals perplexity() over one window of n tokens; both are
// sums of the same per-token double NLLs of logits that differ at most in fp32 summation order.
TEST(SequenceLogits, NllIsThePerplexityWindows) {
  const Fixture f;
  const int n = static_cast<int>(f.tokens.size()), V = f.m.cfg.vocab_size;
  const std::vector<float> all = eval::sequence_logits(f.m, f.tokens);
  double nll = 0;
  for (int t = 0; t + 1 < n; ++t) nll += eval::token_nll(&all[static_cast<size_t>(t) * V], V, f.tokens[t + 1]);
  nll /= n - 1;
  eval::PerplexityOptions po;
  po.ctx = n;
  po.progress = false;
  EXPECT_NEAR(nll, eval::perplexity(f.m, f.tokens, po).nll, 1e-5);
}

TEST(SequenceLogits, BadInputIsAnError) {
  const Fixture f;
  EXPECT_NE(test::error_of([&] { eval::sequence_logits(f.m, {}); }).find("no tokens"), std::string::npos);
  const std::vector<int> too_long(static_cast<size_t>(f.m.cfg.max_seq_len) + 1, 1);
  EXPECT_NE(test::error_of([&] { eval::sequence_logits(f.m, too_long); }).find("context of"), std::string::npos);
}

}  // namespace
}  // namespace hessq
