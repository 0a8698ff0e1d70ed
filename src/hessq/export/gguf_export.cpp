#include "hessq/export/gguf_export.hpp"

#include <cstring>
#include <filesystem>
#include <functional>

#include <spdlog/spdlog.h>

#include "hessq/commit.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/gguf.hpp"
#include "hessq/io/gguf_checkpoint.hpp"
#include "hessq/io/gguf_writer.hpp"
#include "hessq/io/tensor_store.hpp"
#include "hessq/model/block_forward.hpp"
#include "hessq/model/rope_layout.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

namespace hessq::exporting {

namespace fs = std::filesystem;

namespace {

constexpr const char* kHessqKey = "hessq.version";

// ggml's float type ids and llama.cpp's llama_ftype for a float file.
struct FloatType {
  const char* name;
  uint32_t ggml;
  uint32_t file_type;  // LLAMA_FTYPE_ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32
};
constexpr FloatType kFloatTypes[] = {{"f32", 0, 0}, {"f16", 1, 1}, {"bf16", 30, 32}};

const FloatType& float_type(const std::string& name) {
  for (const FloatType& t : kFloatTypes)
    if (name == t.name) return t;
  HESSQ_FAIL("--type must be f32, f16 or bf16 for a float GGUF, got '{}'", name);
}

// f32 values into ggml's storage of `type` (F32, F16, BF16).
void store_floats(const float* x, int64_t n, uint32_t type, uint8_t* dst) {
  if (type == 0) {
    std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  auto* h = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = type == 1 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
}

// The output may replace only a GGUF file hessq wrote (and only with `force`).
void check_output(const std::string& out, bool force) {
  if (!fs::exists(out)) return;
  HESSQ_CHECK(!fs::is_directory(out), "{}: exists and is a directory; choose another --out", out);
  HESSQ_CHECK(force, "{}: exists; pass --force to replace it (only a GGUF written by hessq is replaced)", out);
  bool ours = false;
  try {
    ours = io::GgufFile::open(out).has(kHessqKey);
  } catch (const Error&) {
  }
  HESSQ_CHECK(ours, "{}: exists and was not written by hessq (no {} key); refusing to replace it", out, kHessqKey);
}

std::string arch_string(model::Arch a) {
  switch (a) {
    case model::Arch::Qwen2: return "qwen2";
    case model::Arch::Qwen3: return "qwen3";
    default: return "llama";  // Llama 2/3, Mistral, SmolLM: llama.cpp's LLM_ARCH_LLAMA
  }
}

void add_hparams(io::GgufWriter& w, const model::ModelConfig& c, const std::string& arch) {
  const std::string p = arch + ".";
  w.add_u32(p + "context_length", static_cast<uint32_t>(c.max_seq_len));
  w.add_u32(p + "embedding_length", static_cast<uint32_t>(c.dim));
  w.add_u32(p + "block_count", static_cast<uint32_t>(c.n_layers));
  w.add_u32(p + "feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
  w.add_u32(p + "attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.add_u32(p + "attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  if (c.head_dim * c.n_heads != c.dim) {
    w.add_u32(p + "attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.add_u32(p + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  }
  w.add_f32(p + "rope.freq_base", static_cast<float>(c.rope_theta));
  w.add_f32(p + "attention.layer_norm_rms_epsilon", static_cast<float>(c.norm_eps));
  w.add_u32(p + "rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  w.add_u32(p + "vocab_size", static_cast<uint32_t>(c.vocab_size));
  if (c.rope_scaling) {
    w.add_f32(io::kLlama3RopeKeys[0], static_cast<float>(c.rope_scaling->factor));
    w.add_f32(io::kLlama3RopeKeys[1], static_cast<float>(c.rope_scaling->low_freq_factor));
    w.add_f32(io::kLlama3RopeKeys[2], static_cast<float>(c.rope_scaling->high_freq_factor));
    w.add_u32(io::kLlama3RopeKeys[3], static_cast<uint32_t>(c.rope_scaling->original_max_position));
  }
}

// The tokenizer's keys: copied from a GGUF, else converted; padded to the model's vocabulary.
void add_tokenizer(io::GgufWriter& w, const std::string& path, int vocab_size) {
  HESSQ_CHECK(!path.empty(), "no tokenizer found beside the model; pass --tokenizer (llama.cpp needs the vocabulary)");
  if (fs::path(path).extension() == ".gguf") {
    const io::GgufFile src = io::GgufFile::open(path);
    for (const std::string& key : src.keys())
      if (key.starts_with("tokenizer.")) w.copy_kv(src, key);
    return;
  }
  tokenizer::GgufVocab v = tokenizer::load_tokenizer_for_model(path, vocab_size)->gguf_vocab();
  if (static_cast<int>(v.tokens.size()) < vocab_size)
    spdlog::info("{}: {} tokens, the model has {} rows: padding with unused [PAD<id>] tokens", path, v.tokens.size(),
                 vocab_size);
  for (int id = static_cast<int>(v.tokens.size()); id < vocab_size; ++id) {
    v.tokens.push_back("[PAD" + std::to_string(id) + "]");
    v.types.push_back(static_cast<int32_t>(tokenizer::TokenType::kUnused));
    if (!v.scores.empty()) v.scores.push_back(0.0f);
  }
  tokenizer::add_gguf_vocab(w, v);
}

// llama.cpp's rope_freqs table: per frequency, the divisor the Llama-3 rule applies.
std::vector<float> rope_freq_factors(const model::ModelConfig& c) {
  model::ModelConfig plain = c;
  plain.rope_scaling.reset();
  const std::vector<double> base = model::rope_inv_freq(plain), scaled = model::rope_inv_freq(c);
  std::vector<float> f(base.size());
  for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(base[i] / scaled[i]);
  return f;
}

}  // namespace

void export_gguf(const std::string& model_path, const std::string& out, const GgufExportOptions& opt) {
  check_output(out, opt.force);
  HESSQ_CHECK(io::checkpoint_kind(model_path) != io::CheckpointKind::Hessq,
              "{}: exporting a quantized .hessq model to GGUF needs formats that map onto ggml block types "
              "(not supported yet); export its float source instead",
              model_path);
  const FloatType& ft = float_type(opt.float_type);
  const io::TensorStore store = io::open_tensor_store(model_path);
  const model::ModelConfig& cfg = store.cfg;
  const std::string arch = arch_string(cfg.arch);
  // llama.cpp's "llama" architecture rotates interleaved pairs (its converter permutes HF's q/k rows);
  // qwen2/qwen3 rotate halves on HF's rows.
  const model::RopeStyle rope = arch == "llama" ? model::RopeStyle::Interleaved : model::RopeStyle::Half;

  io::GgufWriter w;
  w.add_string("general.architecture", arch);
  w.add_string("general.name", fs::path(model_path).filename().replace_extension().string());
  w.add_u32("general.file_type", ft.file_type);
  w.add_string(kHessqKey, std::string(HESSQ_VERSION) + " (" + HESSQ_COMMIT + ")");
  add_hparams(w, cfg, arch);
  add_tokenizer(w, opt.tokenizer.empty() ? io::default_tokenizer_path(model_path) : opt.tokenizer, cfg.vocab_size);

  if (cfg.rope_scaling) {
    const std::vector<float> f = rope_freq_factors(cfg);
    w.add_tensor("rope_freqs.weight", {static_cast<int64_t>(f.size())}, 0,
                 [f](uint8_t* dst) { std::memcpy(dst, f.data(), f.size() * sizeof(float)); });
  }
  for (const model::TensorSpec& spec : model::checkpoint_layout(cfg)) {
    const bool vector = spec.shape.size() == 1;  // norms and biases: F32, as llama.cpp requires
    const uint32_t type = vector ? 0 : ft.ggml;
    const std::string name = spec.name;
    w.add_tensor(io::hf_to_gguf_name(name), spec.shape, type, [&store, &cfg, name, type, rope](uint8_t* dst) {
      TensorMap one;
      one.emplace(name, store.at(name).to_f32());
      model::ModelConfig c = cfg;
      model::convert_rope_layout(c, one, rope);  // q/k rows only; other tensors pass unchanged
      const Tensor& t = one.at(name);
      store_floats(t.ptr(), t.numel(), type, dst);
    });
  }
  w.write(out);
}

}  // namespace hessq::exporting
