// stories260K as a GGUF file, written by the tests' own GGUF writer under llama.cpp's tensor names
// (llama2.c's q/k rows are already in the interleaved RoPE layout llama.cpp stores), with the
// embedding and the q projections in Q8_0, quantized and dequantized here: `expected` is the
// checkpoint whose float values the GGUF holds.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "hessq/core/half.hpp"
#include "hessq/io/checkpoint.hpp"
#include "test_util.hpp"
#include "test_util/gguf_writer.hpp"

namespace hessq::test {

// llama.cpp's names for the HF tensors (written out here, not taken from the code under test).
inline std::string gguf_name(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::pair<const char*, const char*> names[] = {
      {"input_layernorm", "attn_norm"}, {"post_attention_layernorm", "ffn_norm"}, {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},   {"self_attn.v_proj", "attn_v"},           {"self_attn.o_proj", "attn_output"},
      {"mlp.gate_proj", "ffn_gate"},    {"mlp.up_proj", "ffn_up"},                {"mlp.down_proj", "ffn_down"}};
  const std::string prefix = "model.layers.";
  const size_t dot = hf.find('.', prefix.size());
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  for (const auto& [h, g] : names)
    if (hf.substr(dot + 1) == std::string(h) + ".weight") return "blk." + layer + "." + g + ".weight";
  ADD_FAILURE() << "no GGUF name for " << hf;
  return hf;
}

// Q8_0 blocks of `t` (row-major, rows a multiple of 32 long), and the values they decode to,
// written into `dequantized`: d = absmax / 127 rounded to f16, q = round(x / d).
inline std::string q8_0(const Tensor& t, Tensor& dequantized) {
  std::string b;
  dequantized = t.clone();
  float* out = dequantized.ptr();
  const float* x = t.ptr();
  for (int64_t i = 0; i < t.numel(); i += 32) {
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[i + j]));
    const uint16_t dh = f32_to_f16(amax / 127.f);
    const float d = f16_to_f32(dh);
    TestGgufWriter::put<uint16_t>(b, dh);
    for (int j = 0; j < 32; ++j) {
      const int q = d == 0.f ? 0 : static_cast<int>(std::lround(x[i + j] / d));
      TestGgufWriter::put<int8_t>(b, static_cast<int8_t>(std::clamp(q, -127, 127)));
      out[i + j] = static_cast<float>(q) * d;
    }
  }
  return b;
}

struct StoriesGguf {
  std::string bytes;
  io::Checkpoint expected;  // stories260K with the Q8_0 tensors replaced by their decoded values
};

inline StoriesGguf stories_gguf(bool with_output = false) {
  StoriesGguf r{{}, io::read_checkpoint(stories_bin())};
  const model::ModelConfig& c = r.expected.cfg;
  TestGgufWriter w;
  w.kv_str("general.architecture", "llama");
  w.kv<uint32_t>("llama.embedding_length", GgufType::kUint32, c.dim);
  w.kv<uint32_t>("llama.feed_forward_length", GgufType::kUint32, c.hidden_dim);
  w.kv<uint32_t>("llama.block_count", GgufType::kUint32, c.n_layers);
  w.kv<uint32_t>("llama.attention.head_count", GgufType::kUint32, c.n_heads);
  w.kv<uint32_t>("llama.attention.head_count_kv", GgufType::kUint32, c.n_kv_heads);
  w.kv<uint32_t>("llama.context_length", GgufType::kUint32, c.max_seq_len);
  w.kv<float>("llama.rope.freq_base", GgufType::kFloat32, 10000.f);
  w.kv<float>("llama.attention.layer_norm_rms_epsilon", GgufType::kFloat32, 1e-5f);
  w.kv<uint32_t>("tokenizer.ggml.bos_token_id", GgufType::kUint32, 1);
  w.kv<uint32_t>("tokenizer.ggml.eos_token_id", GgufType::kUint32, 2);
  if (with_output) r.expected.tensors["lm_head.weight"] = r.expected.tensors.at("model.embed_tokens.weight").clone();
  for (auto& [name, t] : r.expected.tensors) {
    std::vector<uint64_t> ne(t.shape.rbegin(), t.shape.rend());
    if (name == "model.embed_tokens.weight" || name.ends_with("q_proj.weight")) {
      Tensor deq;
      w.tensor(gguf_name(name), ne, 8, q8_0(t, deq));
      t = deq;
    } else {
      w.tensor(gguf_name(name), ne, 0, std::string(reinterpret_cast<const char*>(t.ptr()), t.numel() * 4));
    }
  }
  if (with_output) r.expected.cfg.tie_embeddings = false;
  r.bytes = w.bytes();
  return r;
}

}  // namespace hessq::test
