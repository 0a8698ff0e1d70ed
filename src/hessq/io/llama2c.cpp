#include "hessq/io/llama2c.hpp"

#include <cmath>
#include <cstring>

#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/mapped_file.hpp"
#include "hessq/model/model.hpp"

namespace hessq::io {

namespace {

constexpr size_t kHeaderBytes = 7 * sizeof(int32_t);

// The tensors of a legacy checkpoint in file order; each llama2.c array stacks all layers.
struct Section {
  std::string suffix;  // HF name suffix within a layer, or a full name for global tensors
  bool per_layer;
  Shape shape;         // per layer
};

std::vector<Section> file_order(const model::ModelConfig& c) {
  const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim();
  return {
      {"model.embed_tokens.weight", false, {c.vocab_size, d}},
      {"input_layernorm.weight", true, {d}},
      {"self_attn.q_proj.weight", true, {d, d}},
      {"self_attn.k_proj.weight", true, {kv, d}},
      {"self_attn.v_proj.weight", true, {kv, d}},
      {"self_attn.o_proj.weight", true, {d, d}},
      {"post_attention_layernorm.weight", true, {d}},
      {"mlp.gate_proj.weight", true, {h, d}},
      {"mlp.down_proj.weight", true, {d, h}},
      {"mlp.up_proj.weight", true, {h, d}},
      {"model.norm.weight", false, {d}},
  };
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

// The legacy freq_cis tables computed in float32 (within an ulp of the exporter's values).
std::vector<float> compute_legacy_rope(const model::ModelConfig& c) {
  const int half = c.head_dim / 2;
  std::vector<float> freqs(half);
  for (int i = 0; i < half; ++i)
    freqs[i] = 1.0f / std::pow(static_cast<float>(c.rope_theta), static_cast<float>(2 * i) / c.head_dim);
  std::vector<float> out(2 * static_cast<size_t>(c.max_seq_len) * half);
  float* re = out.data();
  float* im = out.data() + static_cast<size_t>(c.max_seq_len) * half;
  for (int p = 0; p < c.max_seq_len; ++p)
    for (int i = 0; i < half; ++i) {
      const float angle = static_cast<float>(p) * freqs[i];
      re[static_cast<size_t>(p) * half + i] = std::cos(angle);
      im[static_cast<size_t>(p) * half + i] = std::sin(angle);
    }
  return out;
}

}  // namespace

Llama2cCheckpoint read_llama2c(const std::string& path) {
  auto file = MappedFile::open(path);
  HESSQ_CHECK(file->size() >= kHeaderBytes, "{}: {} bytes, too short for a llama2.c header ({} bytes)", path,
              file->size(), kHeaderBytes);
  int32_t h[7];
  std::memcpy(h, file->data(), kHeaderBytes);
  HESSQ_CHECK(static_cast<uint32_t>(h[0]) != 0x616b3432u,
              "{}: llama2.c version-{} export (magic 'ak42'); only the legacy format is supported", path, h[1]);

  model::ModelConfig c;
  c.arch = model::Arch::Llama;
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.vocab_size = std::abs(h[5]);
  c.max_seq_len = h[6];
  c.tie_embeddings = h[5] > 0;
  c.rope_style = model::RopeStyle::Interleaved;
  c.rope_theta = 10000.0;
  c.norm_eps = 1e-5;
  HESSQ_CHECK(c.dim > 0 && c.dim <= (1 << 16) && c.hidden_dim > 0 && c.hidden_dim <= (1 << 18) &&
                  c.n_layers > 0 && c.n_layers <= 1024 && c.n_heads > 0 && c.n_heads <= c.dim && c.n_kv_heads > 0 &&
                  c.vocab_size > 0 && c.vocab_size <= (1 << 22) && c.max_seq_len > 0 && c.max_seq_len <= (1 << 22),
              "{}: not a llama2.c checkpoint: implausible header dim={} hidden_dim={} n_layers={} n_heads={} "
              "n_kv_heads={} vocab_size={} seq_len={}",
              path, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
  HESSQ_CHECK(c.dim % c.n_heads == 0, "{}: dim={} is not divisible by n_heads={}", path, c.dim, c.n_heads);
  c.head_dim = c.dim / c.n_heads;
  c.validate(path);

  // Expected size: header, the tensors, the legacy RoPE tables, then the head if untied.
  const int64_t rope_floats = static_cast<int64_t>(c.max_seq_len) * c.head_dim;  // re + im
  int64_t floats = rope_floats + (c.tie_embeddings ? 0 : numel({c.vocab_size, c.dim}));
  for (const Section& s : file_order(c)) floats += numel(s.shape) * (s.per_layer ? c.n_layers : 1);
  const uint64_t expected = kHeaderBytes + static_cast<uint64_t>(floats) * sizeof(float);
  HESSQ_CHECK(file->size() == expected,
              "{}: file is {} bytes but its header (dim={}, hidden_dim={}, n_layers={}, n_heads={}, n_kv_heads={}, "
              "vocab_size={}, seq_len={}) implies {} bytes{}",
              path, file->size(), h[0], h[1], h[2], h[3], h[4], h[5], h[6], expected,
              file->size() < expected ? " (truncated?)" : "");

  Llama2cCheckpoint ck{c, {}, {}};
  float* p = reinterpret_cast<float*>(file->data() + kHeaderBytes);
  for (const Section& s : file_order(c)) {
    if (!s.per_layer) {
      ck.tensors[s.suffix] = Tensor::view(s.shape, p, file);
      p += numel(s.shape);
      continue;
    }
    for (int l = 0; l < c.n_layers; ++l) {
      ck.tensors[model::layer_tensor_name(l, s.suffix)] = Tensor::view(s.shape, p, file);
      p += numel(s.shape);
    }
  }
  ck.legacy_rope = Tensor::view(legacy_rope_shape(c), p, file);
  p += rope_floats;
  if (!c.tie_embeddings) ck.tensors["lm_head.weight"] = Tensor::view({c.vocab_size, c.dim}, p, file);
  return ck;
}

Shape legacy_rope_shape(const model::ModelConfig& c) { return {2, c.max_seq_len, c.head_dim / 2}; }

void write_llama2c(const std::string& path, const model::ModelConfig& c, const TensorMap& tensors,
                   const Tensor* legacy_rope) {
  HESSQ_CHECK(c.rope_style == model::RopeStyle::Interleaved,
              "{}: llama2.c stores q/k rows for interleaved RoPE; permute the tensors first", path);
  HESSQ_CHECK(!c.qkv_bias && !c.qk_norm && c.q_dim() == c.dim,
              "{}: llama2.c cannot hold q/k/v biases, q/k norms or head_dim != dim / n_heads ({} model)", path,
              model::arch_name(c.arch));
  HESSQ_CHECK(c.rope_theta == 10000.0 && !c.rope_scaling && c.norm_eps == 1e-5,
              "{}: llama2.c fixes rope_theta=10000, no rope scaling and rms_norm_eps=1e-5 (model has {}, {}, {})",
              path, c.rope_theta, c.rope_scaling ? "llama3 scaling" : "none", c.norm_eps);
  auto get = [&](const std::string& name, const Shape& shape) -> const Tensor& {
    auto it = tensors.find(name);
    HESSQ_CHECK(it != tensors.end(), "{}: missing tensor {}", path, name);
    HESSQ_CHECK(it->second.shape == shape, "{}: tensor {} has shape {}, expected {}", path, name,
                shape_str(it->second.shape), shape_str(shape));
    return it->second;
  };
  AtomicFile out(path);
  const int32_t header[7] = {c.dim,          c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                             c.tie_embeddings ? c.vocab_size : -c.vocab_size, c.max_seq_len};
  out.write(header, sizeof(header));
  auto write = [&](const Tensor& t) { out.write(t.ptr(), sizeof(float) * static_cast<size_t>(t.numel())); };
  for (const Section& s : file_order(c)) {
    if (!s.per_layer) {
      write(get(s.suffix, s.shape));
      continue;
    }
    for (int l = 0; l < c.n_layers; ++l) write(get(model::layer_tensor_name(l, s.suffix), s.shape));
  }
  if (legacy_rope) {
    HESSQ_CHECK(legacy_rope->shape == legacy_rope_shape(c), "{}: legacy RoPE tables have shape {}, expected {}",
                path, shape_str(legacy_rope->shape), shape_str(legacy_rope_shape(c)));
    write(*legacy_rope);
  } else {
    std::vector<float> rope = compute_legacy_rope(c);
    out.write(rope.data(), sizeof(float) * rope.size());
  }
  if (!c.tie_embeddings) write(get("lm_head.weight", {c.vocab_size, c.dim}));
  out.commit();
}

}  // namespace hessq::io
