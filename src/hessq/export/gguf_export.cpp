#include "hessq/export/gguf_export.hpp"

#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>

#include <spdlog/spdlog.h>

#include "hessq/commit.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/io/checkpoint.hpp"
#include "hessq/io/gguf.hpp"
#include "hessq/io/gguf_checkpoint.hpp"
#include "hessq/io/gguf_writer.hpp"
#include "hessq/io/tensor_store.hpp"
#include "hessq/export/int_codes.hpp"
#include "hessq/formats/ggml_blocks.hpp"
#include "hessq/formats/ggml_format.hpp"
#include "hessq/formats/ggml_presets.hpp"
#include "hessq/formats/ggml_quantize.hpp"
#include "hessq/formats/ggml_types.hpp"
#include "hessq/model/block_forward.hpp"
#include "hessq/model/layout.hpp"
#include "hessq/model/quantized_linear.hpp"
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

// The ggml type that holds an INT linear exactly: symmetric codes in groups of 32 with an F16 scale,
// w = q * s, are Q4_0 / Q5_0 / Q8_0 blocks (d = s, code = q) for 4 / 5 / 8 bits, when the groups fill
// the rows (no zero-padded last group). Anything else: nullopt.
std::optional<formats::GgmlType> exact_ggml_type(const formats::QuantSpec& s, int64_t cols) {
  if (s.format != formats::Format::Int || !s.symmetric || s.granularity != formats::Granularity::PerGroup ||
      s.group != 32 || cols % 32 != 0)
    return std::nullopt;
  switch (s.bits) {
    case 4: return formats::GgmlType::kQ4_0;
    case 5: return formats::GgmlType::kQ5_0;
    case 8: return formats::GgmlType::kQ8_0;
    default: return std::nullopt;
  }
}

// llama.cpp's llama_ftype of a quantized model: that of the preset named after its first block
// linear's type (formats::ggml_type_ftype).
uint32_t mostly_type(const model::Model& m, uint32_t fallback) {
  const auto* q = dynamic_cast<const model::QuantizedLinear*>(&m.layers.at(0).linear(model::Proj::Q));
  if (!q) return fallback;
  std::optional<formats::GgmlType> t = exact_ggml_type(q->spec(), q->in_features());
  if (!t && q->spec().format == formats::Format::Ggml) t = formats::ggml_block_type(q->spec().ggml_type);
  return t ? formats::ggml_type_ftype(*t).value_or(fallback) : fallback;
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

// An INT linear as ggml blocks of `type` (exact_ggml_type), rows in `order` (empty: as stored).
void write_int_blocks(const model::QuantizedLinear& q, formats::GgmlType type, const std::vector<int64_t>& order,
                      const std::string& name, uint8_t* dst) {
  const IntCodes c = int_codes(q, name);
  const int64_t nb = c.cols / 32, block_bytes = static_cast<int64_t>(formats::ggml_type_traits(formats::ggml_id(type))->bytes);
  int codes[32];
  for (int64_t r = 0; r < c.rows; ++r) {
    const int64_t src = order.empty() ? r : order[r];
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t g = src * c.groups() + b;
      for (int j = 0; j < 32; ++j) codes[j] = c.codes[src * c.cols + b * 32 + j] - c.zeros[g];  // q = u - 2^(b-1)
      formats::ggml_pack_codes(formats::ggml_scale_grid(type, c.scales[g]), codes, dst + (r * nb + b) * block_bytes);
    }
  }
}

// What a tensor of a .hessq model becomes: its ggml type and bytes. Quantized linears in one of
// ggml's block types are copied as they are (q/k rows reordered to `rope`), float tensors stored as
// `float_type` (vectors as F32); any other quantized layer cannot be expressed and is refused.
struct HessqTensor {
  uint32_t type;
  io::GgufWriter::Fill fill;
};

const model::Linear* linear_of(const model::Model& m, const std::string& hf_name, int& layer, bool& qk) {
  for (int l = 0; l < m.cfg.n_layers; ++l)
    for (model::Proj p : model::kAllProjs)
      if (hf_name == model::linear_name(l, p) + ".weight") {
        layer = l;
        qk = p == model::Proj::Q || p == model::Proj::K;
        return &m.layers[l].linear(p);
      }
  return nullptr;
}

HessqTensor hessq_tensor(const model::Model& m, const std::string& name, const Shape& shape, uint32_t float_type,
                         model::RopeStyle rope) {
  auto floats = [&](const Tensor& t, bool permute) -> HessqTensor {
    const uint32_t type = shape.size() == 1 ? 0 : float_type;
    return {type, [&m, t, name, type, permute, rope](uint8_t* dst) {
              TensorMap one{{name, t}};
              model::ModelConfig c = m.cfg;
              if (permute) model::convert_rope_layout(c, one, rope);
              store_floats(one.at(name).ptr(), t.numel(), type, dst);
            }};
  };
  auto quantized = [&](const model::QuantizedLinear& q, int heads) -> HessqTensor {
    const std::vector<int64_t> order =
        heads ? model::rope_row_order(heads, m.cfg.head_dim, m.cfg.rope_style, rope) : std::vector<int64_t>();
    const auto* qp = &q;
    if (const std::optional<formats::GgmlType> t = exact_ggml_type(q.spec(), shape[1])) {
      const std::string tensor = name;
      return {formats::ggml_id(*t), [qp, t, order, tensor](uint8_t* dst) { write_int_blocks(*qp, *t, order, tensor, dst); }};
    }
    HESSQ_CHECK(q.spec().format == formats::Format::Ggml,
                "{}: {} is stored as {}, which no ggml type holds exactly (INT symmetric in groups of 32 with 4, 5 or 8 "
                "bits does: Q4_0, Q5_0, Q8_0); quantize with a ggml type (--ggml-type Q4_K_M, --wformat q4_k, ...) to "
                "export to GGUF",
                m.source, name, q.spec().name());
    const int64_t rows = shape[0], rb = formats::ggml_row_bytes(q.spec(), shape[1]);
    return {q.spec().ggml_type, [qp, rows, rb, order](uint8_t* dst) {
              const uint8_t* src = qp->packed().codes.data();
              for (int64_t r = 0; r < rows; ++r)
                std::memcpy(dst + r * rb, src + (order.empty() ? r : order[r]) * rb, static_cast<size_t>(rb));
            }};
  };
  if (name == "model.embed_tokens.weight") return m.tok_emb_q ? quantized(*m.tok_emb_q, 0) : floats(m.tok_emb, false);
  if (name == "model.norm.weight") return floats(m.final_norm, false);
  if (name == "lm_head.weight") {
    if (auto* q = dynamic_cast<const model::QuantizedLinear*>(m.lm_head.get())) return quantized(*q, 0);
    if (auto* d = dynamic_cast<const model::DenseLinear*>(m.lm_head.get())) return floats(d->weight(), false);
    HESSQ_FAIL("{}: the head is neither float nor quantized in a ggml type", m.source);
  }
  int layer = -1;
  bool qk = false;
  const std::string bias_base = name.ends_with(".bias") ? name.substr(0, name.size() - 5) + ".weight" : "";
  if (const model::Linear* l = linear_of(m, bias_base.empty() ? name : bias_base, layer, qk)) {
    const int heads = !qk ? 0 : name.find("q_proj") != std::string::npos ? m.cfg.n_heads : m.cfg.n_kv_heads;
    if (const auto* q = dynamic_cast<const model::QuantizedLinear*>(l)) {
      if (!bias_base.empty()) return floats(*q->bias(), heads > 0);
      return quantized(*q, heads);
    }
    if (const auto* d = dynamic_cast<const model::DenseLinear*>(l)) return floats(bias_base.empty() ? d->weight() : *d->bias(), heads > 0);
    HESSQ_FAIL("{}: {} runs with activation quantization, smoothing, a low-rank branch or an online rotation, "
               "which GGUF cannot express (export weight-only models quantized to ggml types)",
               m.source, name);
  }
  for (int l = 0; l < m.cfg.n_layers; ++l) {
    const model::LayerWeights& L = m.layers[l];
    struct Norm {
      const char* suffix;
      const Tensor* t;
      bool per_head;  // Qwen3's q/k norms act within a head: reordered with the q/k rows
    };
    const Norm norms[] = {{"input_layernorm.weight", &L.attn_norm, false},
                          {"post_attention_layernorm.weight", &L.ffn_norm, false},
                          {"self_attn.q_norm.weight", &L.q_norm, true},
                          {"self_attn.k_norm.weight", &L.k_norm, true}};
    for (const Norm& n : norms)
      if (name == model::layer_tensor_name(l, n.suffix)) return floats(*n.t, n.per_head);
  }
  HESSQ_FAIL("{}: tensor {} is not part of the model", m.source, name);
}

}  // namespace

void check_gguf_output(const std::string& out, bool force) {
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

void export_gguf(const std::string& model_path, const std::string& out, const GgufExportOptions& opt) {
  check_gguf_output(out, opt.force);
  const FloatType& ft = float_type(opt.float_type);
  const bool quantized = io::checkpoint_kind(model_path) == io::CheckpointKind::Hessq;
  // A float checkpoint is read tensor by tensor; a .hessq model is loaded (its packed layers as stored).
  std::optional<io::TensorStore> store;
  std::optional<model::Model> qmodel;
  if (quantized) qmodel = io::load_model(model_path);
  else store = io::open_tensor_store(model_path);
  const model::ModelConfig& cfg = quantized ? qmodel->cfg : store->cfg;
  const std::string arch = arch_string(cfg.arch);
  // llama.cpp's "llama" architecture rotates interleaved pairs (its converter permutes HF's q/k rows);
  // qwen2/qwen3 rotate halves on HF's rows.
  const model::RopeStyle rope = arch == "llama" ? model::RopeStyle::Interleaved : model::RopeStyle::Half;

  io::GgufWriter w;
  w.add_string("general.architecture", arch);
  // The model's name: its file name without hessq's and GGUF's extensions ("m.gguf.hessq" -> "m").
  fs::path name = fs::path(model_path).filename();
  while (name.extension() == ".hessq" || name.extension() == ".gguf" || name.extension() == ".bin") name.replace_extension();
  w.add_string("general.name", name.string());
  // llama_ftype: a quantized model is "mostly" its block linears' type (reported by llama.cpp only).
  w.add_u32("general.file_type", opt.file_type ? *opt.file_type : quantized ? mostly_type(*qmodel, ft.file_type) : ft.file_type);
  if (quantized) w.add_u32("general.quantization_version", 2);
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
    if (quantized) {
      HessqTensor t = hessq_tensor(*qmodel, name, spec.shape, ft.ggml, rope);
      w.add_tensor(io::hf_to_gguf_name(name), spec.shape, t.type, std::move(t.fill));
      continue;
    }
    w.add_tensor(io::hf_to_gguf_name(name), spec.shape, type, [&store, &cfg, name, type, rope](uint8_t* dst) {
      TensorMap one;
      one.emplace(name, store->at(name).to_f32());
      model::ModelConfig c = cfg;
      model::convert_rope_layout(c, one, rope);  // q/k rows only; other tensors pass unchanged
      const Tensor& t = one.at(name);
      store_floats(t.ptr(), t.numel(), type, dst);
    });
  }
  w.write(out);
}

}  // namespace hessq::exporting
