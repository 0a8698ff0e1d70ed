// The CLI contract on stories260K, against the reference outputs in its README.
#include <gtest/gtest.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "hessq/eval/perplexity.hpp"
#include "hessq/io/npy.hpp"

namespace hessq::test {

static const std::string kModel = stories_bin();
static const std::string kText = shared_path("data/tinystories/tinystories_validation_head.txt");

TEST(StoriesCli, GreedyContinuationMatchesReference) {
  const std::string expected =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she "
      "saw a big, red ball. She wanted to play with it, but it was too high";
  CliResult r = run_hessq("generate --model " + kModel + " --prompt 'Once upon a time' --max-tokens 60 --temperature 0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, expected.size()), expected) << r.out;
}

// Perplexity protocol check from the README: first 1500 characters, BOS + 511 predictions.
// The reference prints 4 decimals; 1e-3 allows for its rounding plus fp32 summation order.
TEST(StoriesCli, PerplexityMatchesReference) {
  CliResult r = run_hessq("eval --model " + kModel + " --ppl " + kText + " --max-chars 1500 --ctx 512 --max-tokens 512 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["ppl"].get<double>(), 3.7107, 1e-3);
  EXPECT_NEAR(j["nll"].get<double>(), 1.31121, 1e-4);
  EXPECT_EQ(j["tokens"].get<int>(), 511);
  EXPECT_GT(j["tokens_per_s"].get<double>(), 0);
}

// eval --logits-out / --tokens-out (what scripts/check-hf-reference compares with transformers): the
// logits of all 200 positions and the ids, whose NLL is the one the same command prints (both sum
// the same per-token double NLLs of the same fp32 logits up to GEMM row grouping: 1e-5). The ids file
// is int32 .npy; a stream longer than one window is refused, and the options need --ppl.
TEST(StoriesCli, EvalWritesLogitsAndTokens) {
  const test::TempDir dir;
  const std::string logits = (dir / "logits.npy").string(), ids = (dir / "ids.npy").string();
  CliResult r = run_hessq("eval --model " + kModel + " --ppl " + kText + " --max-tokens 200 --json --logits-out " +
                          logits + " --tokens-out " + ids);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["logits"]["tokens"].get<int>(), 200);
  EXPECT_EQ(j["logits"]["vocab"].get<int>(), 512);
  const io::NpyArray l = io::read_npy(logits);
  ASSERT_EQ(l.shape, (std::vector<int64_t>{200, 512}));
  const std::string id_bytes = slurp(ids);
  ASSERT_NE(id_bytes.find("'descr': '<i4'"), std::string::npos);
  ASSERT_GE(id_bytes.size(), 200u * 4);
  std::vector<int32_t> tok(200);
  std::memcpy(tok.data(), id_bytes.data() + id_bytes.size() - 200 * 4, 200 * 4);
  EXPECT_EQ(tok[0], 1);  // BOS
  double nll = 0;
  for (int t = 0; t + 1 < 200; ++t) nll += eval::token_nll(&l.data[static_cast<size_t>(t) * 512], 512, tok[t + 1]);
  EXPECT_NEAR(nll / 199, j["nll"].get<double>(), 1e-5);

  r = run_hessq("eval --model " + kModel + " --ppl " + kText + " --ctx 128 --max-tokens 200 --logits-out " + logits);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--logits-out: the text gives 200 tokens, more than one window of 128"), std::string::npos) << r.err;
  r = run_hessq("eval --model " + kModel + " --tasks piqa --logits-out " + logits);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--ppl"), std::string::npos) << r.err;
}

TEST(StoriesCli, SamplingIsSeeded) {
  const std::string cmd = "generate --model " + kModel + " --prompt 'Once upon a time' --max-tokens 30 --temperature 0.9 --top-p 0.9 ";
  CliResult a = run_hessq(cmd + "--seed 7"), b = run_hessq(cmd + "--seed 7"), c = run_hessq(cmd + "--seed 8");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

TEST(StoriesCli, InspectPrintsConfig) {
  CliResult r = run_hessq("inspect " + kModel);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("dim 64  hidden 172  layers 5  heads 8  kv_heads 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("260032"), std::string::npos) << r.out;
}

TEST(StoriesCli, ConvertRoundTrip) {
  const test::TempDir dir;
  const std::string hf = (dir / "hf").string(), back = (dir / "back.bin").string();
  ASSERT_EQ(run_hessq("convert --model " + kModel + " --out " + hf).code, 0);
  ASSERT_EQ(run_hessq("convert --model " + hf + " --out " + back).code, 0);
  EXPECT_EQ(slurp(back), slurp(kModel));
  // The HF directory has no tokenizer: pass it explicitly; same greedy text as the original.
  CliResult a = run_hessq("generate --model " + hf + " --tokenizer " + stories_tok() + " --prompt 'Once upon a time' -n 30");
  CliResult b = run_hessq("generate --model " + kModel + " --prompt 'Once upon a time' -n 30");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

// Bad input: a clear message on stderr naming what is wrong, a non-zero exit, nothing written.
TEST(StoriesCli, BadInputErrors) {
  const test::TempDir dir;
  CliResult r = run_hessq("eval --model " + (dir / "missing.bin").string() + " --ppl " + kText);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("missing.bin: no such file"), std::string::npos) << r.err;

  std::ofstream(dir / "empty.txt").close();
  r = run_hessq("eval --model " + kModel + " --ppl " + (dir / "empty.txt").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("empty.txt: the text is empty"), std::string::npos) << r.err;

  r = run_hessq("eval --model " + kModel + " --ppl " + kText + " --ctx 1024");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--ctx 1024 is longer than the model's context of 512"), std::string::npos) << r.err;

  r = run_hessq("convert --model " + kModel + " --out " + (dir / "no" / "out").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "no"));

  r = run_hessq("eval --model " + kModel);
  EXPECT_EQ(r.code, 2) << "usage errors exit 2";
  EXPECT_NE(r.err.find("--ppl"), std::string::npos) << r.err;
}

// A tokenizer.bin cut to 100 bytes (7 whole tokens) for the 512-token model: generate and eval
// refuse it, naming the file, both vocabulary sizes and where it ends, instead of running with it.
TEST(StoriesCli, TruncatedTokenizerIsAnError) {
  const test::TempDir dir;
  const std::string cut = (dir / "tok_cut.bin").string();
  std::ofstream(cut, std::ios::binary) << slurp(stories_tok()).substr(0, 100);
  const std::vector<std::string> cmds = {"generate --prompt 'Once upon a time' -n 5", "eval --ppl " + kText};
  for (const std::string& cmd : cmds) {
    CliResult r = run_hessq(cmd + " --model " + kModel + " --tokenizer " + cut);
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_EQ(r.out, "") << cmd;
    for (const char* needle : {"tok_cut.bin", "truncated", "offset 100", "vocabulary size 7", "vocab_size is 512"})
      EXPECT_NE(r.err.find(needle), std::string::npos) << cmd << ": " << needle << " in: " << r.err;
  }
}

}  // namespace hessq::test
