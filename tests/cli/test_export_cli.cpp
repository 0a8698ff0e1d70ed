// hessq export through the CLI: stories260K to GGUF, then evaluated by hessq with the tokenizer the
// GGUF carries; its perplexity equals the llama2.c model's with its own tokenizer.bin to the last
// digit (same weights, same tokens). Unknown targets and existing outputs are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/model/synth.hpp"
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

namespace hessq {
namespace {

// A small synthetic Llama (rows of 256 and 512: every ggml block type fits) as an HF directory.
std::string ggml_friendly_model(const test::TempDir& dir) {
  model::ModelConfig c;
  c.dim = 256, c.hidden_dim = 512, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 64;
  c.vocab_size = 300, c.max_seq_len = 256, c.bos_id = c.eos_id = 256;
  const std::string path = (dir / "m").string();
  io::write_hf_checkpoint(path, io::Checkpoint{c, model::synth_tensors(c, 3), std::nullopt}, io::DType::F32,
                          model::synth_tokenizer_files());
  return path;
}

// Quantized onto ggml block types (GPTQ on Q4_K, RTN with diag(H) as the importance on Q4_0),
// exported to GGUF: the file holds the .hessq's blocks unchanged (rows reordered), so hessq evaluates
// both to the same perplexity.
TEST(ExportCli, GgmlTypesExportExactly) {
  const test::TempDir dir;
  const std::string src = ggml_friendly_model(dir);
  const std::string text = test::shared_path("data/tinystories/tinystories_validation_head.txt");
  const std::string eval = " --ppl " + text + " --skip-chars 4000 --max-chars 4000 --ctx 128 --json";
  // INT symmetric in groups of 32 is Q4_0 / Q8_0 exactly (d = the F16 scale, code = the signed code).
  for (const char* method : {"gptq --wformat q4_k", "rtn --wformat q4_0 --set rtn.imatrix=true",
                             "gptq --bits 4 --group 32 --sym", "rtn --bits 8 --group 32 --sym"}) {
    const std::string q = (dir / "q.hessq").string(), g = (dir / "q.gguf").string();
    const test::CliResult r = test::run_hessq("--quiet quantize --model " + src + " --calib " + text +
                                              " --calib-max-chars 4000 --calib-tokens 512 --heldout-tokens 0 "
                                              "--method " + method + " --force --out " + q);
    ASSERT_EQ(r.code, 0) << method << ": " << r.err;
    const test::CliResult x = test::run_hessq("--quiet export --model " + q + " --to gguf --force --out " + g);
    ASSERT_EQ(x.code, 0) << method << ": " << x.err;
    const test::CliResult a = test::run_hessq("--quiet eval --model " + q + eval);
    const test::CliResult b = test::run_hessq("--quiet eval --model " + g + eval);
    ASSERT_EQ(a.code, 0) << a.err;
    ASSERT_EQ(b.code, 0) << b.err;
    // The same weights; llama.cpp's "llama" layout reorders the q/k rows (HF source: halves -> interleaved
    // pairs), so RoPE runs in another order: fp32 reassociation noise only (measured ~1e-7 relative).
    const double pa = nlohmann::json::parse(a.out).at("ppl").get<double>();
    EXPECT_NEAR(nlohmann::json::parse(b.out).at("ppl").get<double>(), pa, 1e-5 * pa) << method;
    const test::CliResult ins = test::run_hessq("inspect " + g);
    const std::string m = method;
    const char* type = m.find("q4_k") != std::string::npos ? "Q4_K" : m.find("bits 8") != std::string::npos ? "Q8_0" : "Q4_0";
    EXPECT_NE(ins.out.find(type), std::string::npos) << ins.out;
  }
  // Asymmetric INT has no exact ggml type (Q4_1's min would be rounded): refused, naming the tensor,
  // nothing written.
  const std::string q = (dir / "int.hessq").string(), g = (dir / "int.gguf").string();
  ASSERT_EQ(test::run_hessq("--quiet quantize --model " + src + " --calib " + text +
                            " --calib-max-chars 4000 --calib-tokens 512 --heldout-tokens 0 --method rtn --bits 4 "
                            "--group 32 --out " + q).code, 0);
  const test::CliResult x = test::run_hessq("--quiet export --model " + q + " --to gguf --out " + g);
  EXPECT_NE(x.code, 0);
  EXPECT_NE(x.err.find("q_proj.weight is stored as int4"), std::string::npos) << x.err;
  EXPECT_FALSE(std::filesystem::exists(g));
}

}  // namespace
}  // namespace hessq
