// hessq export --to gguf: the exported file, read back by hessq's GGUF reader (tested against
// hand-built files in tests/io), is the same model: the same logits, config and tokenizer, for
// llama2.c (stories260K, SentencePiece-style vocabulary), Llama-3 (GQA, RoPE scaling, padded
// byte-level BPE vocabulary), Qwen2 (biases) and Qwen3 (q/k norms). Bad input is refused and
// nothing is lost.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "hessq/core/half.hpp"
#include "hessq/export/gguf_export.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/gguf.hpp"
#include "hessq/model/synth.hpp"
#include "hessq/model/transformer.hpp"
#include "hessq/tokenizer/tokenizer.hpp"
#include "test_util.hpp"

namespace hessq::exporting {
namespace {

namespace fs = std::filesystem;

std::vector<float> logits_of(const model::Model& m, const std::vector<int>& toks) {
  model::Transformer tr(m);
  const float* p = tr.forward(toks.data(), static_cast<int>(toks.size()), true);
  return std::vector<float>(p, p + toks.size() * m.cfg.vocab_size);
}

// max |a - b| over the logit range of b.
double relative_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, lo = 1e30, hi = -1e30;
  for (size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
    lo = std::min(lo, static_cast<double>(b[i]));
    hi = std::max(hi, static_cast<double>(b[i]));
  }
  return d / (hi - lo);
}

const char* kText = "Once upon a time, a little fox found 3 red apples. \"Yum!\" she said.\nThe end.";

TEST(GgufExport, Stories260KSameLogitsAndTokenizer) {
  const test::TempDir dir;
  const std::string out = (dir / "stories.gguf").string();
  export_gguf(test::stories_bin(), out, {});
  const io::GgufFile g = io::GgufFile::open(out);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(g.get_u32("general.file_type"), 0u);
  EXPECT_EQ(g.tensor("blk.0.attn_q.weight").type, 0u);

  const model::Model want = io::load_model(test::stories_bin());
  const model::Model got = io::load_model(out);
  EXPECT_EQ(got.cfg.rope_style, model::RopeStyle::Interleaved);
  const auto src_tok = tokenizer::load_tokenizer(test::stories_tok());
  const auto gguf_tok = tokenizer::load_tokenizer(out);
  const std::vector<int> ids = src_tok->encode(kText, true);
  EXPECT_EQ(gguf_tok->encode(kText, true), ids);
  EXPECT_EQ(gguf_tok->decode(ids), src_tok->decode(ids));
  // The same fp32 weights in the same (interleaved) layout and the same operations: identical logits.
  EXPECT_EQ(logits_of(got, ids), logits_of(want, ids));
}

// A small synthetic HF checkpoint of `arch` with the synthetic byte-level tokenizer (257 tokens,
// fewer than the 300 rows of the embedding: the export pads the vocabulary).
std::string synth_dir(const test::TempDir& dir, model::Arch arch) {
  model::ModelConfig c;
  c.arch = arch;
  c.dim = 64, c.hidden_dim = 96, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 16;
  c.vocab_size = 300, c.max_seq_len = 256, c.rope_theta = 500000.0, c.norm_eps = 1e-5;
  c.bos_id = c.eos_id = 256;
  if (arch == model::Arch::Llama) c.rope_scaling = model::RopeScaling{8.0, 1.0, 4.0, 64};
  if (arch == model::Arch::Qwen2) c.qkv_bias = true, c.tie_embeddings = true;
  if (arch == model::Arch::Qwen3) c.qk_norm = true, c.head_dim = 32, c.rope_theta = 1e6;
  const std::string path = (dir / model::arch_name(arch)).string();
  io::write_hf_checkpoint(path, io::Checkpoint{c, model::synth_tensors(c, 7), std::nullopt}, io::DType::F32,
                          model::synth_tokenizer_files());
  return path;
}

class GgufExportArch : public testing::TestWithParam<model::Arch> {};

TEST_P(GgufExportArch, SameModelBack) {
  const test::TempDir dir;
  const std::string src = synth_dir(dir, GetParam());
  const std::string out = (dir / "m.gguf").string();
  export_gguf(src, out, {});
  const model::Model want = io::load_model(src);
  const model::Model got = io::load_model(out);
  EXPECT_EQ(got.cfg.arch, GetParam());
  EXPECT_EQ(got.cfg.qkv_bias, want.cfg.qkv_bias);
  EXPECT_EQ(got.cfg.qk_norm, want.cfg.qk_norm);
  EXPECT_EQ(got.cfg.head_dim, want.cfg.head_dim);
  EXPECT_EQ(got.cfg.n_kv_heads, want.cfg.n_kv_heads);
  EXPECT_EQ(got.cfg.tie_embeddings, want.cfg.tie_embeddings);
  EXPECT_EQ(got.cfg.rope_scaling.has_value(), want.cfg.rope_scaling.has_value());
  if (want.cfg.rope_scaling) {
    EXPECT_EQ(got.cfg.rope_scaling->original_max_position, 64);
  }

  const auto src_tok = tokenizer::load_tokenizer(src);
  const auto gguf_tok = tokenizer::load_tokenizer(out);
  const std::vector<int> ids = src_tok->encode(kText, true);
  EXPECT_EQ(gguf_tok->encode(kText, true), ids);
  EXPECT_EQ(gguf_tok->decode(ids), src_tok->decode(ids));
  const io::GgufFile g = io::GgufFile::open(out);
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(g.array_size("tokenizer.ggml.tokens"), 300u);  // 257 tokens + 43 [PAD<id>]

  // Llama: the q/k rows are permuted to the interleaved layout and RoPE runs on pairs instead of
  // halves; the same arithmetic in another order, so fp32 reassociation noise only (1e-5 of the
  // range is ~100 float ulps of the largest logit).
  EXPECT_LE(relative_max_diff(logits_of(got, ids), logits_of(want, ids)), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Archs, GgufExportArch,
                         testing::Values(model::Arch::Llama, model::Arch::Qwen2, model::Arch::Qwen3),
                         [](const auto& info) { return std::string(model::arch_name(info.param)); });

TEST(GgufExport, HalfPrecisionStoresRoundedWeights) {
  const test::TempDir dir;
  const std::string out = (dir / "s16.gguf").string();
  export_gguf(test::stories_bin(), out, {"f16", "", false, std::nullopt});
  const io::GgufFile g = io::GgufFile::open(out);
  EXPECT_EQ(g.get_u32("general.file_type"), 1u);
  EXPECT_EQ(g.tensor("blk.0.attn_q.weight").type, 1u);
  EXPECT_EQ(g.tensor("blk.0.attn_norm.weight").type, 0u);  // norms stay F32
  const Tensor src = io::read_checkpoint(test::stories_bin()).tensors.at("model.layers.1.mlp.up_proj.weight");
  const Tensor got = g.tensor_f32("blk.1.ffn_up.weight");
  ASSERT_EQ(got.numel(), src.numel());
  for (int64_t i = 0; i < src.numel(); ++i) ASSERT_EQ(got.ptr()[i], f16_to_f32(f32_to_f16(src.ptr()[i]))) << i;
}

TEST(GgufExport, RefusesAndLosesNothing) {
  const test::TempDir dir;
  const std::string out = (dir / "x.gguf").string();
  {
    std::ofstream(out) << "not mine";
  }
  std::string err = test::error_of([&] { export_gguf(test::stories_bin(), out, {}); });
  EXPECT_NE(err.find("--force"), std::string::npos) << err;
  err = test::error_of([&] { export_gguf(test::stories_bin(), out, {"f32", "", true, std::nullopt}); });
  EXPECT_NE(err.find("not written by hessq"), std::string::npos) << err;
  std::string content;
  std::getline(std::ifstream(out), content);
  EXPECT_EQ(content, "not mine");

  const std::string ours = (dir / "ours.gguf").string();
  export_gguf(test::stories_bin(), ours, {});
  export_gguf(test::stories_bin(), ours, {"f16", "", true, std::nullopt});  // hessq's own file: replaced with --force
  EXPECT_EQ(io::GgufFile::open(ours).get_u32("general.file_type"), 1u);

  err = test::error_of([&] { export_gguf(test::stories_bin(), (dir / "y.gguf").string(), {"q4", "", false, std::nullopt}); });
  EXPECT_NE(err.find("--type must be f32, f16 or bf16"), std::string::npos) << err;
  err = test::error_of([&] { export_gguf((dir / "missing.bin").string(), (dir / "z.gguf").string(), {}); });
  EXPECT_NE(err.find("missing.bin"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "y.gguf"));
  EXPECT_FALSE(fs::exists(dir / "z.gguf"));
}

}  // namespace
}  // namespace hessq::exporting
