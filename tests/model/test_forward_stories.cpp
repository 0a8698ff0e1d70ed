// The float runtime against stories260K's reference outputs (../shared/models/stories260K/README.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "hessq/io/llama2c.hpp"
#include "hessq/model/transformer.hpp"
#include "test_util.hpp"

namespace hessq::model {

static Model load_stories() {
  auto ck = io::read_llama2c(test::stories_bin());
  return build_model(ck.cfg, ck.tensors, test::stories_bin());
}

// The reference values are printed with 5 decimals from an independent fp32 implementation; fp32
// summation order differences stay far below 1e-3 on logits of magnitude ~20.
constexpr float kLogitTol = 1e-3f;

TEST(ForwardStories, Top5LogitsAfterBos) {
  Model m = load_stories();
  Transformer tr(m);
  int bos = 1;
  const float* logits = tr.forward(&bos, 1, false);
  std::vector<int> idx(m.cfg.vocab_size);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  const int ids[5] = {403, 385, 410, 317, 407};
  const float vals[5] = {17.02352f, 15.40621f, 13.10826f, 12.76917f, 12.41809f};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(idx[i], ids[i]);
    EXPECT_NEAR(logits[ids[i]], vals[i], kLogitTol);
  }
  double sum = 0;
  for (int i = 0; i < m.cfg.vocab_size; ++i) sum += logits[i];
  EXPECT_NEAR(sum, -1070.17223, 512 * kLogitTol);
}

// Prefill of a whole sequence and token-by-token decode through the KV cache agree.
TEST(ForwardStories, PrefillMatchesDecode) {
  Model m = load_stories();
  const std::vector<int> toks = {1, 403, 407, 261, 378, 290, 300};
  const int n = static_cast<int>(toks.size()), V = m.cfg.vocab_size;
  Transformer prefill(m), decode(m);
  const float* p = prefill.forward(toks.data(), n, true);
  std::vector<float> all(p, p + static_cast<size_t>(n) * V);
  for (int t = 0; t < n; ++t) {
    const float* d = decode.forward(&toks[t], 1, false);
    for (int i = 0; i < V; ++i) ASSERT_NEAR(d[i], all[static_cast<size_t>(t) * V + i], 1e-4f) << t << " " << i;
  }
}

}  // namespace hessq::model
