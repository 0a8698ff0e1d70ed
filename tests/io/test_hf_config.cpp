#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "hessq/core/error.hpp"
#include "hessq/io/hf_config.hpp"
#include "test_util.hpp"

namespace hessq::io {
namespace {

namespace fs = std::filesystem;
using model::Arch;
using model::ModelConfig;

// Writes `json` as config.json in a fresh directory; returns the directory. It lies in the running
// test's scratch directory, so it outlives this function and is removed when the test ends.
std::string write_config(const std::string& json) {
  static int calls = 0;
  const fs::path dir = test::scratch_dir() / ("config" + std::to_string(calls++));
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << json;
  return dir.string();
}

template <class Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown; expected one mentioning " << *parts.begin();
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.hidden_dim, b.hidden_dim);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.max_seq_len, b.max_seq_len);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  ASSERT_EQ(a.rope_scaling.has_value(), b.rope_scaling.has_value());
  if (a.rope_scaling) {
    EXPECT_EQ(a.rope_scaling->factor, b.rope_scaling->factor);
    EXPECT_EQ(a.rope_scaling->low_freq_factor, b.rope_scaling->low_freq_factor);
    EXPECT_EQ(a.rope_scaling->high_freq_factor, b.rope_scaling->high_freq_factor);
    EXPECT_EQ(a.rope_scaling->original_max_position, b.rope_scaling->original_max_position);
  }
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.rope_style, b.rope_style);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_id, b.eos_id);
}

// Llama-3.2-1B's config.json (llama3 rope scaling, tied embeddings, explicit head_dim).
const char* kLlama3 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": 64, "hidden_act": "silu",
  "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072,
  "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16,
  "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true,
  "vocab_size": 128256})";

// Qwen2.5-0.5B: q/k/v bias implied by the architecture, no num_key_value_heads default needed.
const char* kQwen2 = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "intermediate_size": 4864,
  "max_position_embeddings": 32768, "max_window_layers": 24, "model_type": "qwen2", "num_attention_heads": 14,
  "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
  "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_sliding_window": false,
  "vocab_size": 151936})";

// Qwen3-4B: head_dim 128 although 2560 / 32 = 80; qk_norm; integer rope_theta; null rope_scaling.
const char* kQwen3 = R"({
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "bos_token_id": 151643, "eos_token_id": 151645,
  "head_dim": 128, "hidden_act": "silu", "hidden_size": 2560, "intermediate_size": 9728,
  "max_position_embeddings": 40960, "model_type": "qwen3", "num_attention_heads": 32, "num_hidden_layers": 36,
  "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
  "sliding_window": null, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "vocab_size": 151936})";

// Mistral-7B-v0.1 (no head_dim, no rope_scaling).
const char* kMistral = R"({
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "vocab_size": 32000})";

// A minimal Llama config: every optional key left to its default.
const char* kMinimal = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 172,
  "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 512, "max_position_embeddings": 256})";

TEST(HfConfig, Llama3) {
  ModelConfig c = read_hf_config(write_config(kLlama3));
  EXPECT_EQ(c.arch, Arch::Llama);
  EXPECT_EQ(c.dim, 2048);
  EXPECT_EQ(c.hidden_dim, 8192);
  EXPECT_EQ(c.n_layers, 16);
  EXPECT_EQ(c.n_heads, 32);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.max_seq_len, 131072);
  EXPECT_EQ(c.rope_theta, 500000.0);
  ASSERT_TRUE(c.rope_scaling.has_value());
  EXPECT_EQ(c.rope_scaling->factor, 32.0);
  EXPECT_EQ(c.rope_scaling->low_freq_factor, 1.0);
  EXPECT_EQ(c.rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling->original_max_position, 8192);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_EQ(c.norm_eps, 1e-5);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.rope_style, model::RopeStyle::Half);
  EXPECT_EQ(c.bos_id, 128000);
  EXPECT_EQ(c.eos_id, 128001);  // first of the list
}

TEST(HfConfig, Qwen2HasBias) {
  ModelConfig c = read_hf_config(write_config(kQwen2));
  EXPECT_EQ(c.arch, Arch::Qwen2);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.head_dim, 64);  // 896 / 14
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_FALSE(c.rope_scaling.has_value());
}

TEST(HfConfig, Qwen3ExplicitHeadDim) {
  std::string dir = write_config(kQwen3);
  ModelConfig c = read_hf_config(dir + "/config.json");  // the file itself works too
  EXPECT_EQ(c.arch, Arch::Qwen3);
  EXPECT_EQ(c.dim, 2560);
  EXPECT_EQ(c.n_heads, 32);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.q_dim(), 4096);
  EXPECT_EQ(c.kv_dim(), 1024);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_FALSE(c.rope_scaling.has_value());
  EXPECT_EQ(c.eos_id, 151645);
}

TEST(HfConfig, Mistral) {
  ModelConfig c = read_hf_config(write_config(kMistral));
  EXPECT_EQ(c.arch, Arch::Mistral);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.hidden_dim, 14336);
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_id, 2);
}

TEST(HfConfig, Defaults) {
  ModelConfig c = read_hf_config(write_config(kMinimal));
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.rope_scaling.has_value());
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_EQ(c.norm_eps, 1e-6);
  EXPECT_EQ(c.bos_id, -1);
  EXPECT_EQ(c.eos_id, -1);
}

TEST(HfConfig, AttentionBiasAndDefaultRopeType) {
  std::string json = kMinimal;
  json.back() = ',';
  json += R"( "attention_bias": true, "rope_scaling": {"type": "default"}})";
  ModelConfig c = read_hf_config(write_config(json));
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.rope_scaling.has_value());
}

TEST(HfConfig, UnsupportedArchitecture) {
  std::string dir = write_config(R"({"architectures": ["GPT2LMHeadModel"], "n_embd": 768})");
  expect_error([&] { read_hf_config(dir); },
               {dir + "/config.json", "unsupported architecture 'GPT2LMHeadModel'", "LlamaForCausalLM",
                "Qwen3ForCausalLM"});
}

TEST(HfConfig, Errors) {
  auto with = [](const std::string& extra) {
    std::string json = kMinimal;
    json.back() = ',';
    return write_config(json + extra + "}");
  };
  std::string dir = write_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64})");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "intermediate_size"});
  dir = with(R"("rope_theta": "big")");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "rope_theta", "string", "number"});
  dir = write_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64.5})");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "hidden_size", "integer"});
  dir = with(R"("tie_word_embeddings": 1)");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "tie_word_embeddings", "boolean"});
  dir = with(R"("rope_scaling": {"rope_type": "yarn", "factor": 4.0})");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "rope_scaling", "'yarn'"});
  dir = with(R"("rope_scaling": {"rope_type": "llama3", "factor": 8.0})");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "rope_scaling.low_freq_factor"});
  dir = with(R"("num_key_value_heads": 3)");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "n_kv_heads=3"});
  dir = write_config("[1, 2]");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "array"});
  dir = write_config("{\"architectures\": ");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "JSON"});
  dir = write_config(R"({"hidden_size": 64})");
  expect_error([&] { read_hf_config(dir); }, {"config.json", "architectures"});
  expect_error([&] { read_hf_config(dir + "/missing"); }, {"missing"});
}

TEST(HfConfig, JsonRoundTrip) {
  for (const char* json : {kLlama3, kQwen2, kQwen3, kMistral, kMinimal}) {
    ModelConfig c = read_hf_config(write_config(json));
    std::string text = hf_config_json(c);
    EXPECT_EQ(text, hf_config_json(c));  // deterministic
    EXPECT_NE(text.find("\"torch_dtype\": \"float32\""), std::string::npos);
    EXPECT_NE(text.find("\"architectures\": [\n"), std::string::npos);  // pretty-printed
    expect_same(read_hf_config(write_config(text)), c);
  }
}

TEST(HfConfig, JsonRejectsWhatHfCannotExpress) {
  ModelConfig c = read_hf_config(write_config(kMinimal));
  c.rope_style = model::RopeStyle::Interleaved;
  expect_error([&] { hf_config_json(c); }, {"rope"});
  c = read_hf_config(write_config(kQwen2));
  c.qkv_bias = false;
  expect_error([&] { hf_config_json(c); }, {"Qwen2ForCausalLM", "bias"});
}

}  // namespace
}  // namespace hessq::io
