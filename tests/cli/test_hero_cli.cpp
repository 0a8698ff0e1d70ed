// hessq quantize with the learned rotations (hero, spinquant) on stories260K: the optimizer's report
// in --json and hessq.json, the saved model evaluates, identical output bytes at --threads 1 and 2 and
// after a kill and --resume, and the flags' errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"

namespace fs = std::filesystem;

namespace hessq::test {

namespace {

const std::string kModel = stories_bin();
const std::string kText = shared_path("data/tinystories/tinystories_validation_head.txt");
// 2048 calibration tokens (4 windows of 512), 256 held out; few optimizer steps: the suite stays fast.
const std::string kCalib = " --calib " + kText + " --calib-max-chars 100000 --calib-tokens 2048 --heldout-tokens 256";
const std::string kHero = " --method hero+gptq --bits 3 --group 32 --set hero.steps=6";

}  // namespace

TEST(HeroCli, QuantizeReportsEvaluatesAndIsThreadIndependent) {
  const TempDir dir;
  const fs::path one = dir / "t1.hessq", two = dir / "t2.hessq";
  CliResult q1 = run_hessq("--threads 1 quantize --model " + kModel + kCalib + kHero + " --json --out " + one.string());
  ASSERT_EQ(q1.code, 0) << q1.err;
  CliResult q2 = run_hessq("--threads 2 quantize --model " + kModel + kCalib + kHero + " --out " + two.string());
  ASSERT_EQ(q2.code, 0) << q2.err;
  const auto f1 = output_files(one), f2 = output_files(two);
  EXPECT_EQ(f1.size(), 9u);  // 6 shards (5 blocks + embedding/head), their index, tokenizer, hessq.json
  EXPECT_TRUE(f1 == f2);     // (not EXPECT_EQ: a mismatch would print megabytes)
  for (const auto& [name, bytes] : f1) EXPECT_TRUE(f2.count(name) && f2.at(name) == bytes) << name;

  // Killed after block 2 and resumed: the pass is rerun (deterministic), blocks 0-2 are replayed.
  const fs::path killed = dir / "k.hessq";
  const std::string args = "--threads 1 quantize --model " + kModel + kCalib + kHero + " --out " + killed.string();
  ASSERT_EQ(run_hessq_env("HESSQ_KILL_AFTER_BLOCK=2", args).code, 128 + 9);
  CliResult r = run_hessq(args + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(output_files(killed) == f1);

  const auto j = nlohmann::json::parse(q1.out);
  const auto& h = j["summary"]["hero"];
  EXPECT_EQ(h["pass"], "hero");
  EXPECT_EQ(h["steps"], 6);
  EXPECT_EQ(h["curve"]["objective"].size(), 7u);
  EXPECT_EQ(h["linears"].size(), 25u);
  for (const char* k : {"loss_before", "loss_after", "kappa_before", "kappa_after", "lambda_max"})
    EXPECT_TRUE(h["linears"][0].contains(k)) << k;
  EXPECT_TRUE(j["timing"]["hero"].contains("optimize_s"));
  EXPECT_EQ(j["summary"]["rotation"]["residual"]["kind"], "custom");
  EXPECT_EQ(j["block_forwards"], j["block_forwards_expected"]);
  EXPECT_EQ(j["recipe"]["passes"][0]["hero"]["steps"], 6);
  const auto manifest = nlohmann::json::parse(slurp((one / "hessq.json").string()));
  EXPECT_EQ(manifest["summary"]["hero"]["curve"], h["curve"]);

  CliResult e = run_hessq("eval --model " + one.string() + " --ppl " + kText +
                          " --skip-chars 100000 --max-chars 6000 --ctx 256 --json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_GT(nlohmann::json::parse(e.out)["ppl"].get<double>(), 1.0);
}

TEST(HeroCli, SpinquantRuns) {
  const TempDir dir;
  CliResult q = run_hessq("--threads 1 quantize --model " + kModel + kCalib +
                          " --method spinquant+rtn --bits 4 --group 32 --set spinquant.steps=3 --json --out " +
                          (dir / "s.hessq").string());
  ASSERT_EQ(q.code, 0) << q.err;
  const auto h = nlohmann::json::parse(q.out)["summary"]["hero"];
  EXPECT_EQ(h["pass"], "spinquant");
  EXPECT_EQ(h["rho"], 0.0);
  EXPECT_EQ(h["learn_scales"], false);

  // The optimizer's curve as an SVG chart: one polyline per series (objective, quantization term),
  // one point per step (0..3).
  const fs::path svg = dir / "curve.svg";
  CliResult c = run_hessq("inspect " + (dir / "s.hessq").string() + " --curve-svg " + svg.string());
  ASSERT_EQ(c.code, 0) << c.err;
  const std::string text = slurp(svg.string());
  EXPECT_EQ(text.rfind("<svg", 0), 0u);
  size_t polylines = 0;
  for (size_t at = text.find("<polyline"); at != std::string::npos; at = text.find("<polyline", at + 1)) ++polylines;
  EXPECT_EQ(polylines, 2u);
  EXPECT_NE(text.find("spinquant: best step"), std::string::npos);
  // A model without a learned rotation: a clear error, no file.
  CliResult r = run_hessq("--threads 1 quantize --model " + kModel + kCalib + " --method rtn --bits 4 --out " +
                          (dir / "r.hessq").string());
  ASSERT_EQ(r.code, 0) << r.err;
  CliResult bad = run_hessq("inspect " + (dir / "r.hessq").string() + " --curve-svg " + (dir / "none.svg").string());
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("no learned rotation's curve"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir / "none.svg"));
}

TEST(HeroCli, Errors) {
  const TempDir dir;
  const std::string base = "quantize --model " + kModel + kCalib + " --bits 3 --out " + (dir / "x.hessq").string();
  auto expect_fail = [&](const std::string& args, const std::string& msg) {
    CliResult r = run_hessq(base + args);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_NE(r.err.find(msg), std::string::npos) << args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(dir / "x.hessq"));
  };
  expect_fail(" --method quarot+hero+gptq", "'rotate' and 'hero' both rotate the residual stream");
  expect_fail(" --method hero+gptq --set hero.stepz=3", "--set hero.stepz=3: hero: unknown parameter 'stepz'");
  expect_fail(" --method hero+gptq --set hero.steps=x", "--set hero.steps=x: hero: 'steps' must be an integer");
  expect_fail(" --method gptq --set hero.steps=3", "--set hero.steps=3: --method gptq has no pass 'hero'");
  expect_fail(" --method hero+gptq --group 48", "does not divide dim = 64");
}

}  // namespace hessq::test
