// A GGUF model through the CLI, without the real model: stories260K written as a GGUF (embedding and
// q projections Q8_0; test_util/stories_gguf.hpp). Oracle: the same model converted to a llama2.c
// .bin (the dequantized values, same RoPE layout); quantizing either and evaluating the result gives
// the same perplexity to the last digit, so the lazy GGUF path (blocks dequantized as the pipeline
// reaches them, a Q8_0 embedding stored as F32) changes nothing.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "test_util/stories_gguf.hpp"

namespace hessq {
namespace {

TEST(GgufCli, QuantizesLikeItsDequantizedLlama2cTwin) {
  const test::TempDir dir;
  const std::string gguf = (dir / "s.gguf").string(), bin = (dir / "s.bin").string();
  const std::string b = test::stories_gguf().bytes;
  std::ofstream(gguf, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));

  const test::CliResult ins = test::run_hessq("inspect " + gguf);
  ASSERT_EQ(ins.code, 0) << ins.err;
  EXPECT_NE(ins.out.find("Q8_0"), std::string::npos) << ins.out;
  const test::CliResult conv = test::run_hessq("--quiet convert --model " + gguf + " --to llama2c --out " + bin);
  ASSERT_EQ(conv.code, 0) << conv.err;

  const std::string text = test::shared_path("data/tinystories/tinystories_validation_head.txt");
  const std::string common = " --tokenizer " + test::stories_tok() + " --calib " + text +
                             " --calib-max-chars 20000 --calib-tokens 1024 --heldout-tokens 0 --method gptq --bits 4"
                             " --group 32 --out ";
  const std::string eval = " --tokenizer " + test::stories_tok() + " --ppl " + text +
                           " --skip-chars 20000 --max-chars 8000 --ctx 256 --json";
  double ppl[2];
  int i = 0;
  for (const auto& [model, name] : {std::pair{gguf, "from-gguf.hessq"}, std::pair{bin, "from-bin.hessq"}}) {
    const std::string out = (dir / name).string();
    const test::CliResult q = test::run_hessq("--quiet quantize --model " + model + common + out);
    ASSERT_EQ(q.code, 0) << q.err;
    const test::CliResult e = test::run_hessq("--quiet eval --model " + out + eval);
    ASSERT_EQ(e.code, 0) << e.err;
    ppl[i++] = nlohmann::json::parse(e.out).at("ppl").get<double>();
  }
  EXPECT_EQ(ppl[0], ppl[1]);
  EXPECT_GT(ppl[0], 1.0);

  const test::CliResult g =
      test::run_hessq("generate --model " + gguf + " --tokenizer " + test::stories_tok() + " --prompt 'Once upon' -n 8");
  EXPECT_EQ(g.code, 0) << g.err;
  EXPECT_NE(g.out.find("Once upon"), std::string::npos) << g.out;
}

}  // namespace
}  // namespace hessq
