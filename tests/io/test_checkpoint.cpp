// Checkpoint conversion: llama2.c -> HF keeps the logits (RoPE row permutation), and HF -> llama2.c
// gives back the original file; bad checkpoints are rejected with the file and tensor named.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "hessq/core/error.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/model/transformer.hpp"
#include "test_util.hpp"

namespace hessq::io {

namespace fs = std::filesystem;

static std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

static std::vector<float> logits_of(const model::Model& m, const std::vector<int>& toks) {
  model::Transformer tr(m);
  const float* p = tr.forward(toks.data(), static_cast<int>(toks.size()), true);
  return std::vector<float>(p, p + toks.size() * m.cfg.vocab_size);
}

using test::error_of;

// The HF directory holds q/k in the rotate-half layout; same logits within fp32 reassociation noise
// (the permutation changes no arithmetic except the order in which RoPE pairs are summed in q.k).
TEST(Checkpoint, Llama2cToHfKeepsLogits) {
  const test::TempDir dir;
  write_hf_checkpoint((dir / "hf").string(), read_checkpoint(test::stories_bin()));
  model::Model a = load_model(test::stories_bin());
  model::Model b = load_model((dir / "hf").string());
  EXPECT_EQ(b.cfg.rope_style, model::RopeStyle::Half);
  const std::vector<int> toks = {1, 403, 407, 261, 378, 290, 300, 45, 98, 400};
  auto la = logits_of(a, toks), lb = logits_of(b, toks);
  float max_diff = 0;
  for (size_t i = 0; i < la.size(); ++i) max_diff = std::max(max_diff, std::abs(la[i] - lb[i]));
  EXPECT_LE(max_diff, 1e-4f);
}

TEST(Checkpoint, RoundTripGivesIdenticalFile) {
  const test::TempDir dir;
  write_hf_checkpoint((dir / "hf").string(), read_checkpoint(test::stories_bin()));
  write_llama2c_checkpoint((dir / "back.bin").string(), read_checkpoint((dir / "hf").string()));
  EXPECT_EQ(read_bytes(dir / "back.bin"), read_bytes(test::stories_bin()));
}

// Rewrites the HF checkpoint in `dir` with `edit` applied to its tensors.
static void edit_tensors(const fs::path& dir, const std::function<void(TensorMap&)>& edit) {
  TensorMap t = read_safetensors(dir.string());
  for (auto& [name, tensor] : t) tensor = tensor.clone();  // detach from the file being replaced
  edit(t);
  write_safetensors_f32((dir / "model.safetensors").string(), t, DType::F32);
}

TEST(Checkpoint, BadTensorsAreNamed) {
  const test::TempDir dir;
  const fs::path hf = dir / "hf";
  const std::string q0 = "model.layers.0.self_attn.q_proj.weight";
  auto fresh = [&] { write_hf_checkpoint(hf.string(), read_checkpoint(test::stories_bin())); };

  fresh();
  edit_tensors(hf, [&](TensorMap& t) { t.erase(q0); });
  std::string msg = error_of([&] { load_model(hf.string()); });
  EXPECT_NE(msg.find("missing tensor " + q0), std::string::npos) << msg;
  EXPECT_NE(msg.find(hf.string()), std::string::npos) << msg;

  fresh();
  edit_tensors(hf, [&](TensorMap& t) { t["model.layers.0.mlp.extra.weight"] = Tensor::zeros({2, 2}); });
  msg = error_of([&] { load_model(hf.string()); });
  EXPECT_NE(msg.find("unexpected tensor model.layers.0.mlp.extra.weight"), std::string::npos) << msg;

  fresh();
  edit_tensors(hf, [&](TensorMap& t) { t[q0] = Tensor::zeros({64, 63}); });
  msg = error_of([&] { load_model(hf.string()); });
  EXPECT_NE(msg.find(q0 + " has shape [64, 63], expected [64, 64]"), std::string::npos) << msg;

  fresh();
  edit_tensors(hf, [&](TensorMap& t) { t[q0].ptr()[5] = std::nanf(""); });
  msg = error_of([&] { load_model(hf.string()); });
  EXPECT_NE(msg.find(q0 + " has a non-finite value"), std::string::npos) << msg;

  fresh();
  edit_tensors(hf, [&](TensorMap& t) { t[q0].ptr()[7] = INFINITY; });
  msg = error_of([&] { load_model(hf.string()); });
  EXPECT_NE(msg.find("non-finite value (inf)"), std::string::npos) << msg;
}

TEST(Checkpoint, UnsupportedArchitectureAndPaths) {
  const test::TempDir dir;
  const fs::path hf = dir / "hf";
  write_hf_checkpoint(hf.string(), read_checkpoint(test::stories_bin()));
  std::string cfg = read_bytes(hf / "config.json");
  auto at = cfg.find("LlamaForCausalLM");
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, 16, "GPT2LMHeadModel");
  std::ofstream(hf / "config.json") << cfg;
  std::string msg = error_of([&] { load_model(hf.string()); });
  EXPECT_NE(msg.find("unsupported architecture"), std::string::npos) << msg;
  EXPECT_NE(msg.find("GPT2LMHeadModel"), std::string::npos) << msg;

  msg = error_of([&] { load_model((dir / "nope").string()); });
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
  fs::create_directory(dir / "empty");
  msg = error_of([&] { load_model((dir / "empty").string()); });
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
}

// A failed write leaves neither the output nor a temporary behind.
TEST(Checkpoint, FailedWriteLeavesNothing) {
  const test::TempDir dir;
  Checkpoint ck = read_checkpoint(test::stories_bin());
  ck.tensors.erase("model.norm.weight");
  EXPECT_THROW(write_hf_checkpoint((dir / "hf").string(), ck), Error);
  EXPECT_TRUE(fs::is_empty(dir));
}

}  // namespace hessq::io
