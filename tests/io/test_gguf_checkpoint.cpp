// A GGUF file as a checkpoint. Oracle: stories260K (llama2.c, whose q/k rows are in the interleaved
// RoPE layout llama.cpp also stores) written into a GGUF by the test's own writer, under llama.cpp's
// tensor names, with the embedding and the q projections in Q8_0 (quantized here, dequantized here
// by hand); hessq must load the same config and produce the logits of the llama2.c model whose
// tensors hold the test's dequantized values. Errors name the file, tensor or key.
#include "hessq/io/gguf_checkpoint.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/tensor_store.hpp"
#include "hessq/model/transformer.hpp"
#include "test_util.hpp"
#include "test_util/gguf_writer.hpp"
#include "test_util/stories_gguf.hpp"

namespace hessq::io {
namespace {

using test::TestGgufWriter;
using test::stories_gguf;

using test::error_of;

void write_bytes(const std::string& path, const std::string& b) {
  std::ofstream(path, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
}

std::vector<float> logits_of(const model::Model& m, const std::vector<int>& toks) {
  model::Transformer tr(m);
  const float* p = tr.forward(toks.data(), static_cast<int>(toks.size()), true);
  return std::vector<float>(p, p + toks.size() * m.cfg.vocab_size);
}

TEST(GgufCheckpoint, ConfigFromMetadata) {
  const test::TempDir dir;
  const std::string path = (dir / "stories.gguf").string();
  const test::StoriesGguf b = stories_gguf();
  write_bytes(path, b.bytes);
  EXPECT_EQ(checkpoint_kind(path), CheckpointKind::Gguf);
  const model::ModelConfig c = gguf_model_config(GgufFile::open(path));
  const model::ModelConfig& e = b.expected.cfg;
  EXPECT_EQ(c.dim, e.dim);
  EXPECT_EQ(c.hidden_dim, e.hidden_dim);
  EXPECT_EQ(c.n_layers, e.n_layers);
  EXPECT_EQ(c.n_heads, e.n_heads);
  EXPECT_EQ(c.n_kv_heads, e.n_kv_heads);
  EXPECT_EQ(c.head_dim, e.head_dim);
  EXPECT_EQ(c.vocab_size, e.vocab_size);  // no llama.vocab_size: the embedding's rows
  EXPECT_EQ(c.max_seq_len, e.max_seq_len);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.norm_eps, 1e-5);  // the decimal the f32 was written from
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_EQ(c.rope_style, model::RopeStyle::Interleaved);
  EXPECT_EQ(default_tokenizer_path(path), path);
}

TEST(GgufCheckpoint, LogitsOfTheDequantizedModel) {
  const test::TempDir dir;
  const std::string path = (dir / "stories.gguf").string();
  const test::StoriesGguf b = stories_gguf();
  write_bytes(path, b.bytes);
  const TensorStore s = open_tensor_store(path);
  EXPECT_EQ(s.at("model.embed_tokens.weight").type_name(), "Q8_0");
  EXPECT_EQ(s.at("model.layers.0.self_attn.k_proj.weight").type_name(), "F32");
  const model::Model got = load_model(path);
  const model::Model want = model::build_model(b.expected.cfg, b.expected.tensors, "expected");
  const std::vector<int> toks = {1, 403, 407, 261, 378, 34, 51, 9, 300, 499};
  // The same weights and the same operations: identical logits.
  EXPECT_EQ(logits_of(got, toks), logits_of(want, toks));
  // Rows of a block-quantized tensor (the embedding rows the pipeline reads) agree with the whole.
  std::vector<float> row(static_cast<size_t>(got.cfg.dim));
  s.at("model.embed_tokens.weight").rows_f32(403, 1, row.data());
  const float* e = b.expected.tensors.at("model.embed_tokens.weight").ptr() + 403 * got.cfg.dim;
  EXPECT_EQ(row, std::vector<float>(e, e + got.cfg.dim));
}

TEST(GgufCheckpoint, UntiedHeadFromOutputWeight) {
  const test::TempDir dir;
  const std::string path = (dir / "stories.gguf").string();
  const test::StoriesGguf b = stories_gguf(/*with_output=*/true);
  write_bytes(path, b.bytes);
  const model::Model got = load_model(path);
  EXPECT_FALSE(got.cfg.tie_embeddings);
  const model::Model want = model::build_model(b.expected.cfg, b.expected.tensors, "expected");
  const std::vector<int> toks = {1, 403, 407};
  EXPECT_EQ(logits_of(got, toks), logits_of(want, toks));
}

TEST(GgufCheckpoint, ErrorsNameFileTensorAndKey) {
  const test::TempDir dir;
  // A tensor name with no HF counterpart.
  EXPECT_NE(error_of([] { gguf_to_hf_name("blk.0.attn_qkv.weight", "m.gguf"); }).find("blk.0.attn_qkv.weight"),
            std::string::npos);
  EXPECT_NE(error_of([] { gguf_to_hf_name("blk.x.attn_q.weight", "m.gguf"); }).find("m.gguf"), std::string::npos);
  EXPECT_EQ(gguf_to_hf_name("blk.12.ffn_down.weight", "m.gguf"), "model.layers.12.mlp.down_proj.weight");
  EXPECT_EQ(gguf_to_hf_name("blk.0.attn_q.bias", "m.gguf"), "model.layers.0.self_attn.q_proj.bias");

  // Another architecture; a missing key; a tensor type hessq does not read.
  TestGgufWriter w;
  w.kv_str("general.architecture", "gpt2");
  w.tensor("token_embd.weight", {32, 2}, 0, std::string(256, '\0'));
  const std::string other = (dir / "other.gguf").string();
  write_bytes(other, w.bytes());
  EXPECT_NE(error_of([&] { open_tensor_store(other); }).find("'gpt2' is not supported"), std::string::npos);

  TestGgufWriter m;
  m.kv_str("general.architecture", "llama");
  m.kv<uint32_t>("llama.embedding_length", GgufType::kUint32, 64);
  m.tensor("token_embd.weight", {32, 2}, 0, std::string(256, '\0'));
  const std::string missing = (dir / "missing.gguf").string();
  write_bytes(missing, m.bytes());
  const std::string e = error_of([&] { open_tensor_store(missing); });
  EXPECT_NE(e.find("missing.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("llama.feed_forward_length"), std::string::npos) << e;

  TestGgufWriter q;
  q.kv_str("general.architecture", "llama");
  q.tensor("token_embd.weight", {32, 2}, 20, std::string(36, '\0'));  // IQ4_NL: 18-byte blocks of 32
  const std::string iq4 = (dir / "iq4nl.gguf").string();
  write_bytes(iq4, q.bytes());
  const std::string eq = error_of([&] { GgufFile g = GgufFile::open(iq4); gguf_stored_tensors(g); });
  EXPECT_NE(eq.find("iq4nl.gguf"), std::string::npos) << eq;
  EXPECT_NE(eq.find("token_embd.weight"), std::string::npos) << eq;
  EXPECT_NE(eq.find("IQ4_NL"), std::string::npos) << eq;
}

}  // namespace
}  // namespace hessq::io
