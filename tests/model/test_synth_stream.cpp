// Synthetic weights produced range by range (SynthWeights::fill) and streamed to disk
// (write_hf_checkpoint_streamed) are bit-identical to the in-memory path: the same values as the
// original whole-tensor generator, and the same files as write_hf_checkpoint of those tensors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "hessq/core/error.hpp"
#include "hessq/core/random.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/model/synth.hpp"
#include "test_util.hpp"

namespace hessq::model {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// The generator as it was before streaming (whole tensors, fill_normal over 4096-value blocks), kept
// verbatim as the reference the streamed values must reproduce bit for bit.
void reference_fill_normal(Tensor& t, float stddev, uint64_t seed, const std::string& name) {
  constexpr int64_t kBlock = 4096;
  uint64_t base = seed ^ 0xcbf29ce484222325ull;
  for (unsigned char ch : name) base = (base ^ ch) * 0x100000001b3ull;
  const int64_t n = t.numel(), blocks = (n + kBlock - 1) / kBlock;
  float* p = t.ptr();
  for (int64_t b = 0; b < blocks; ++b) {
    uint64_t s = base + 0x632be59bd9b4e019ull * static_cast<uint64_t>(b + 1);
    for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); i += 2) {
      const double u1 = (static_cast<double>(splitmix64(s) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
      const double u2 = static_cast<double>(splitmix64(s) >> 11) * 0x1.0p-53;
      const double r = std::sqrt(-2.0 * std::log(u1)) * stddev;
      p[i] = static_cast<float>(r * std::cos(2 * M_PI * u2));
      if (i + 1 < n) p[i + 1] = static_cast<float>(r * std::sin(2 * M_PI * u2));
    }
  }
}

TensorMap reference_synth_tensors(const ModelConfig& cfg, uint64_t seed) {
  TensorMap out;
  for (const TensorSpec& spec : checkpoint_layout(cfg)) {
    Tensor t = Tensor::zeros(spec.shape);
    const bool is_norm = spec.name.find("norm") != std::string::npos;
    if (is_norm) {
      std::fill(t.ptr(), t.ptr() + t.numel(), 1.0f);
    } else if (spec.shape.size() == 1) {
      reference_fill_normal(t, 0.02f, seed, spec.name);
    } else if (spec.name == "model.embed_tokens.weight" || spec.name == "lm_head.weight") {
      reference_fill_normal(t, 0.02f, seed, spec.name);
    } else {
      reference_fill_normal(t, static_cast<float>(1.0 / std::sqrt(static_cast<double>(spec.shape[1]))), seed,
                            spec.name);
    }
    out[spec.name] = std::move(t);
  }
  return out;
}

// Small configs of each kind: Qwen2 (q/k/v biases, untied head), Qwen3 (q/k norms, tied), Llama with
// odd sizes (tensors whose sizes are odd: embedding 4099 x 49, gate/up 131 x 49).
std::vector<ModelConfig> tiny_configs() {
  ModelConfig q2 = synth_config("qwen2.5-0.5b", 2);
  q2.dim = 64, q2.hidden_dim = 160, q2.n_heads = 4, q2.n_kv_heads = 2, q2.head_dim = 16, q2.vocab_size = 1000;
  q2.tie_embeddings = false;
  ModelConfig q3 = synth_config("qwen3-4b", 1);
  q3.dim = 96, q3.hidden_dim = 256, q3.n_heads = 4, q3.n_kv_heads = 2, q3.head_dim = 32, q3.vocab_size = 777;
  ModelConfig ll = synth_config("llama-3-8b", 1);
  ll.dim = 49, ll.hidden_dim = 131, ll.n_heads = 3, ll.n_kv_heads = 1, ll.head_dim = 16, ll.vocab_size = 4099;
  return {q2, q3, ll};
}

void expect_same(const Tensor& a, const Tensor& b, const std::string& name) {
  ASSERT_EQ(a.shape, b.shape) << name;
  EXPECT_EQ(std::memcmp(a.ptr(), b.ptr(), a.numel() * sizeof(float)), 0) << name;
}

TEST(SynthStream, SynthTensorsMatchTheOriginalGenerator) {
  for (const ModelConfig& cfg : tiny_configs()) {
    for (uint64_t seed : {0ull, 7ull}) {
      TensorMap ref = reference_synth_tensors(cfg, seed), now = synth_tensors(cfg, seed);
      ASSERT_EQ(ref.size(), now.size());
      for (const auto& [name, t] : ref) expect_same(t, now.at(name), name);
    }
  }
  // (A real shape, smollm-135m, is compared through its files in StreamedCheckpointIsByteIdenticalToInMemory.)
}

TEST(SynthStream, AnyRangeMatchesTheWholeTensor) {
  const ModelConfig cfg = tiny_configs()[2];
  const SynthWeights w(cfg, 11);
  for (const TensorSpec& spec : w.layout()) {
    const Tensor whole = w.tensor(spec.name);
    const int64_t n = whole.numel();
    for (auto [b, e] : std::vector<std::pair<int64_t, int64_t>>{
             {0, n}, {0, 1}, {n - 1, n}, {1, n}, {4095, 4097}, {4097, 8193}, {n / 3, 2 * n / 3}, {n / 2, n / 2}}) {
      b = std::clamp<int64_t>(b, 0, n);
      e = std::clamp<int64_t>(e, b, n);
      std::vector<float> part(static_cast<size_t>(e - b) + 1, -123.0f);
      w.fill(spec.name, b, e, part.data());
      EXPECT_EQ(std::memcmp(part.data(), whole.ptr() + b, (e - b) * sizeof(float)), 0)
          << spec.name << " [" << b << ", " << e << ")";
      EXPECT_EQ(part.back(), -123.0f) << spec.name << ": wrote past the range";
    }
  }
  float x;
  EXPECT_THROW(w.fill("nope", 0, 1, &x), Error);
  EXPECT_THROW(w.fill("model.norm.weight", 0, cfg.dim + 1, &x), Error);
}

TEST(SynthStream, StreamedCheckpointIsByteIdenticalToInMemory) {
  const test::TempDir dir;
  std::vector<ModelConfig> cfgs = tiny_configs();
  cfgs.push_back(synth_config("smollm-135m", 1));  // a real shape: 49152 x 576 embedding, tied
  for (size_t c = 0; c < cfgs.size(); ++c) {
    const ModelConfig& cfg = cfgs[c];
    for (io::DType dtype : {io::DType::BF16, io::DType::F32, io::DType::F16}) {
      if (c == 3 && dtype != io::DType::BF16) continue;  // the real shape: the default dtype only
      SCOPED_TRACE(fmt::format("config {} {}", c, io::dtype_name(dtype)));
      const fs::path a = dir / fmt::format("mem-{}-{}", c, io::dtype_name(dtype));
      const fs::path b = dir / fmt::format("stream-{}-{}", c, io::dtype_name(dtype));
      io::write_hf_checkpoint(a.string(), io::Checkpoint{cfg, reference_synth_tensors(cfg, 5), std::nullopt}, dtype,
                              synth_tokenizer_files());
      const SynthWeights w(cfg, 5);
      io::write_hf_checkpoint_streamed(
          b.string(), cfg, dtype,
          [&](const std::string& name, size_t begin, size_t end, float* out) {
            w.fill(name, static_cast<int64_t>(begin), static_cast<int64_t>(end), out);
          },
          synth_tokenizer_files());
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(a)) files.push_back(e.path().filename().string());
      std::sort(files.begin(), files.end());
      std::vector<std::string> files_b;
      for (const auto& e : fs::directory_iterator(b)) files_b.push_back(e.path().filename().string());
      std::sort(files_b.begin(), files_b.end());
      EXPECT_EQ(files, files_b);
      for (const auto& f : files) EXPECT_TRUE(read_bytes(a / f) == read_bytes(b / f)) << f;
      if (c == 0 && dtype == io::DType::F32) {
        // Chunks that cut the 4096-value blocks give the same file.
        const fs::path st = dir / "odd-chunks.safetensors";
        std::map<std::string, Shape> shapes;
        for (const auto& spec : w.layout()) shapes[spec.name] = spec.shape;
        io::write_safetensors_f32_streamed(
            st.string(), shapes, dtype,
            [&](const std::string& name, size_t begin, size_t end, float* out) {
              w.fill(name, static_cast<int64_t>(begin), static_cast<int64_t>(end), out);
            },
            {{"format", "pt"}}, 1000);
        EXPECT_TRUE(read_bytes(st) == read_bytes(a / "model.safetensors"));
      }
    }
  }
}

TEST(SynthStream, StreamedCheckpointRejectsNonFiniteValuesAndLeavesNothing) {
  const test::TempDir dir;
  const ModelConfig cfg = tiny_configs()[0];
  const SynthWeights w(cfg, 1);
  const fs::path out = dir / "bad";
  try {
    io::write_hf_checkpoint_streamed(out.string(), cfg, io::DType::BF16,
                                     [&](const std::string& name, size_t begin, size_t end, float* v) {
                                       w.fill(name, static_cast<int64_t>(begin), static_cast<int64_t>(end), v);
                                       if (name == "model.layers.1.mlp.up_proj.weight") v[3] = NAN;
                                     });
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model.layers.1.mlp.up_proj.weight'"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

}  // namespace
}  // namespace hessq::model
