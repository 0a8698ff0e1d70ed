#include "hessq/core/random.hpp"
#include "hessq/model/synth.hpp"

#include <cmath>
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hessq/core/error.hpp"
#include "hessq/model/model.hpp"

namespace hessq::model {

namespace {

constexpr int kSynthBos = 256;  // "<|endoftext|>" in the synthetic tokenizer

struct NamedShape {
  const char* name;
  ModelConfig cfg;
};

ModelConfig make(Arch arch, int dim, int hidden, int layers, int heads, int kv, int head_dim, int vocab, int ctx,
                 double theta, double eps, bool tie) {
  ModelConfig c;
  c.arch = arch;
  c.dim = dim;
  c.hidden_dim = hidden;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv;
  c.head_dim = head_dim;
  c.vocab_size = vocab;
  c.max_seq_len = ctx;
  c.rope_theta = theta;
  c.norm_eps = eps;
  c.tie_embeddings = tie;
  c.qkv_bias = arch == Arch::Qwen2;
  c.qk_norm = arch == Arch::Qwen3;
  c.rope_style = RopeStyle::Half;
  c.bos_id = kSynthBos;
  c.eos_id = kSynthBos;
  return c;
}

// Published config.json values of each model.
std::vector<NamedShape> shapes() {
  ModelConfig llama31 = make(Arch::Llama, 4096, 14336, 32, 32, 8, 128, 128256, 131072, 500000.0, 1e-5, false);
  llama31.rope_scaling = RopeScaling{8.0, 1.0, 4.0, 8192};
  return {
      {"qwen3-4b", make(Arch::Qwen3, 2560, 9728, 36, 32, 8, 128, 151936, 40960, 1e6, 1e-6, true)},
      {"qwen2.5-0.5b", make(Arch::Qwen2, 896, 4864, 24, 14, 2, 64, 151936, 32768, 1e6, 1e-6, true)},
      {"llama-2-7b", make(Arch::Llama, 4096, 11008, 32, 32, 32, 128, 32000, 4096, 10000.0, 1e-5, false)},
      {"llama-3-8b", make(Arch::Llama, 4096, 14336, 32, 32, 8, 128, 128256, 8192, 500000.0, 1e-5, false)},
      {"llama-3.1-8b", llama31},
      {"mistral-7b", make(Arch::Mistral, 4096, 14336, 32, 32, 8, 128, 32000, 32768, 1e6, 1e-5, false)},
      {"smollm-135m", make(Arch::Llama, 576, 1536, 30, 9, 3, 64, 49152, 2048, 10000.0, 1e-5, true)},
      // llama2.c's stories110M (its model.py defaults with a 32000 vocabulary): the 110M decode benchmark shape.
      {"stories110m", make(Arch::Llama, 768, 2048, 12, 12, 12, 64, 32000, 1024, 10000.0, 1e-5, false)},
  };
}

constexpr int64_t kBlock = 4096;  // values per splitmix64 stream

uint64_t name_seed(uint64_t seed, const std::string& name) {
  uint64_t base = seed ^ 0xcbf29ce484222325ull;  // FNV-1a of the name: portable, unlike std::hash
  for (unsigned char ch : name) base = (base ^ ch) * 0x100000001b3ull;
  return base;
}

// Block b of a tensor of n values drawn from N(0, std^2) (Box-Muller, pairs within the block), into
// p[0, min(n, (b + 1) * kBlock) - b * kBlock). The stream is seeded from (base, b) alone, so the result
// does not depend on which blocks are produced, in which order or on which thread.
void normal_block(uint64_t base, int64_t b, int64_t n, float stddev, float* p) {
  uint64_t s = base + 0x632be59bd9b4e019ull * static_cast<uint64_t>(b + 1);
  const int64_t lo = b * kBlock, hi = std::min(n, lo + kBlock);
  for (int64_t i = lo; i < hi; i += 2) {
    const double u1 = (static_cast<double>(splitmix64(s) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(splitmix64(s) >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1)) * stddev;
    p[i - lo] = static_cast<float>(r * std::cos(2 * M_PI * u2));
    if (i + 1 < n) p[i + 1 - lo] = static_cast<float>(r * std::sin(2 * M_PI * u2));
  }
}

// Values [begin, end) of a tensor of n values (see normal_block) into out[0, end - begin).
void fill_normal_range(uint64_t base, int64_t n, float stddev, int64_t begin, int64_t end, float* out) {
  if (begin >= end) return;
  const int64_t b0 = begin / kBlock, b1 = (end - 1) / kBlock + 1;
#pragma omp parallel for schedule(static)
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t lo = b * kBlock, hi = std::min(n, lo + kBlock);
    if (lo >= begin && hi <= end) {
      normal_block(base, b, n, stddev, out + (lo - begin));
    } else {  // a block cut by the range: draw all of it, keep the part inside
      float buf[kBlock];
      normal_block(base, b, n, stddev, buf);
      const int64_t a = std::max(lo, begin), e = std::min(hi, end);
      std::copy(buf + (a - lo), buf + (e - lo), out + (a - begin));
    }
  }
}

}  // namespace

std::vector<std::string> synth_shape_names() {
  std::vector<std::string> names;
  for (const auto& s : shapes()) names.emplace_back(s.name);
  return names;
}

ModelConfig synth_config(const std::string& like, int layers) {
  for (const auto& s : shapes()) {
    if (like != s.name) continue;
    ModelConfig c = s.cfg;
    HESSQ_CHECK(layers >= 0, "--layers must be >= 0, got {}", layers);
    if (layers > 0) c.n_layers = layers;
    return c;
  }
  HESSQ_FAIL("unknown synthetic shape '{}' (known: {})", like, fmt::join(synth_shape_names(), ", "));
}

SynthWeights::SynthWeights(const ModelConfig& cfg, uint64_t seed)
    : cfg_(cfg), seed_(seed), layout_(checkpoint_layout(cfg)) {
  for (const TensorSpec& spec : layout_) {
    Init init;
    init.numel = 1;
    for (int64_t d : spec.shape) init.numel *= d;
    if (spec.name.find("norm") != std::string::npos) {
      init.ones = true;
    } else if (spec.shape.size() == 1) {
      init.stddev = 0.02f;  // q/k/v bias
    } else if (spec.name == "model.embed_tokens.weight" || spec.name == "lm_head.weight") {
      init.stddev = 0.02f;  // HF initializer_range: logits of order 1
    } else {
      init.stddev = static_cast<float>(1.0 / std::sqrt(static_cast<double>(spec.shape[1])));
    }
    init_.emplace(spec.name, init);
  }
}

void SynthWeights::fill(const std::string& name, int64_t begin, int64_t end, float* out) const {
  auto it = init_.find(name);
  HESSQ_CHECK(it != init_.end(), "synthetic weights: no tensor '{}' in the layout", name);
  const Init& init = it->second;
  HESSQ_CHECK(0 <= begin && begin <= end && end <= init.numel,
              "synthetic weights: tensor '{}': range [{}, {}) outside its {} values", name, begin, end, init.numel);
  if (init.ones)
    std::fill(out, out + (end - begin), 1.0f);
  else
    fill_normal_range(name_seed(seed_, name), init.numel, init.stddev, begin, end, out);
}

Tensor SynthWeights::tensor(const std::string& name) const {
  auto it = std::find_if(layout_.begin(), layout_.end(), [&](const TensorSpec& s) { return s.name == name; });
  HESSQ_CHECK(it != layout_.end(), "synthetic weights: no tensor '{}' in the layout", name);
  Tensor t = Tensor::zeros(it->shape);
  fill(name, 0, t.numel(), t.ptr());
  return t;
}

TensorMap synth_tensors(const ModelConfig& cfg, uint64_t seed) {
  SynthWeights w(cfg, seed);
  TensorMap out;
  for (const TensorSpec& spec : w.layout()) out[spec.name] = w.tensor(spec.name);
  return out;
}

// GPT-2's byte-to-unicode map: printable bytes stand for themselves, the rest are shifted past 255.
static std::string byte_level_char(int b) {
  const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  int cp = b;
  if (!printable) {
    int shifted = 0;
    for (int x = 0; x < b; ++x)
      if (!((x >= '!' && x <= '~') || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff))) ++shifted;
    cp = 256 + shifted;
  }
  std::string s;  // UTF-8 of cp (< 0x800)
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

std::map<std::string, std::string> synth_tokenizer_files() {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level_char(b)] = b;
  nlohmann::ordered_json tok = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", kSynthBos}, {"content", "<|endoftext|>"}, {"special", true}}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::ordered_json::array()}}},
  };
  nlohmann::ordered_json cfg = {{"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}};
  return {{"tokenizer.json", tok.dump(1)}, {"tokenizer_config.json", cfg.dump(1)}};
}

}  // namespace hessq::model
