// A synthetic checkpoint at a real shape (qwen3-4b: GQA, q/k norms, explicit head_dim, tied
// embeddings, 151936-token vocabulary) loads, generates and evaluates end to end.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"

namespace hessq::test {

TEST(SynthCli, Qwen3ShapeLoadsGeneratesEvaluates) {
  const test::TempDir dir;
  const std::string out = (dir / "qwen3-4b-l2").string();
  CliResult r = run_hessq("synth --like qwen3-4b --layers 2 --seed 1 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;

  r = run_hessq("inspect " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("qwen3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dim 2560  hidden 9728  layers 2  heads 32  kv_heads 8  head_dim 128"), std::string::npos)
      << r.out;

  r = run_hessq("generate --model " + out + " --prompt 'Hello' --max-tokens 4 --temperature 0");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Hello", 0), 0u) << r.out;

  r = run_hessq("eval --model " + out + " --ppl " + shared_path("data/wikitext-2/wiki.test.raw") +
                " --ctx 32 --max-tokens 64 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tokens"].get<int>(), 62);  // two windows of 32 tokens, 31 predictions each
  EXPECT_TRUE(std::isfinite(j["ppl"].get<double>()));
}

TEST(SynthCli, SameSeedSameBytes) {
  const test::TempDir dir;
  const std::string a = (dir / "a").string(), b = (dir / "b").string();
  ASSERT_EQ(run_hessq("synth --like smollm-135m --layers 1 --seed 3 --out " + a).code, 0);
  ASSERT_EQ(run_hessq("synth --like smollm-135m --layers 1 --seed 3 --out " + b).code, 0);
  EXPECT_EQ(slurp(a + "/model.safetensors"), slurp(b + "/model.safetensors"));
  EXPECT_EQ(slurp(a + "/config.json"), slurp(b + "/config.json"));
}

TEST(SynthCli, UnknownShapeIsListed) {
  const test::TempDir dir;
  CliResult r = run_hessq("synth --like gpt-5 --out " + (dir / "x").string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("unknown synthetic shape 'gpt-5' (known: qwen3-4b"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x"));
}

}  // namespace hessq::test
