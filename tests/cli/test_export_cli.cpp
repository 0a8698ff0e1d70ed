// hessq export through the CLI: stories260K to GGUF, then evaluated by hessq with the tokenizer the
// GGUF carries; its perplexity equals the llama2.c model's with its own tokenizer.bin to the last
// digit (same weights, same tokens). Unknown targets and existing outputs are refused.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "test_util.hpp"

namespace hessq {
namespace {

TEST(ExportCli, GgufEvaluatesLikeItsSource) {
  const test::TempDir dir;
  const std::string gguf = (dir / "s.gguf").string();
  const test::CliResult x = test::run_hessq("export --model " + test::stories_bin() + " --to gguf --out " + gguf);
  ASSERT_EQ(x.code, 0) << x.err;
  EXPECT_NE(x.err.find("wrote " + gguf), std::string::npos) << x.err;

  const std::string text = test::shared_path("data/tinystories/tinystories_validation_head.txt");
  const std::string eval = " --ppl " + text + " --max-chars 8000 --ctx 256 --json";
  const test::CliResult a = test::run_hessq("--quiet eval --model " + gguf + eval);
  ASSERT_EQ(a.code, 0) << a.err;
  const test::CliResult b = test::run_hessq("--quiet eval --model " + test::stories_bin() + eval);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(nlohmann::json::parse(a.out).at("ppl").get<double>(), nlohmann::json::parse(b.out).at("ppl").get<double>());

  const test::CliResult again = test::run_hessq("export --model " + test::stories_bin() + " --to gguf --out " + gguf);
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  const test::CliResult bad = test::run_hessq("export --model " + test::stories_bin() + " --to onnx --out " + gguf);
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("--to must be one of gguf"), std::string::npos) << bad.err;
  const test::CliResult help = test::run_hessq("export --help");
  EXPECT_NE(help.out.find("llama.cpp"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace hessq
