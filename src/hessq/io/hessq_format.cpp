#include "hessq/io/hessq_format.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <list>
#include <optional>
#include <set>

#include "hessq/commit.hpp"
#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/io/hessq_w4a4.hpp"
#include "hessq/io/hf_config.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/runtime/quantized_linear.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace hessq::io {

static constexpr const char* kWeightsFile = "model.safetensors";

bool is_hessq_dir(const std::string& path) {
  return fs::is_directory(path) && fs::exists(fs::path(path) / kHessqManifestFile);
}

std::string linear_tensor_prefix(int layer, model::Proj p) {
  const bool attn = p == model::Proj::Q || p == model::Proj::K || p == model::Proj::V || p == model::Proj::O;
  return model::layer_tensor_name(layer, std::string(attn ? "self_attn." : "mlp.") + model::proj_name(p));
}

// ---- config <-> JSON --------------------------------------------------------------------------------

json model_config_json(const model::ModelConfig& c) {
  json j;
  j["arch"] = model::arch_name(c.arch);
  j["dim"] = c.dim;
  j["hidden_dim"] = c.hidden_dim;
  j["n_layers"] = c.n_layers;
  j["n_heads"] = c.n_heads;
  j["n_kv_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["max_seq_len"] = c.max_seq_len;
  j["rope_theta"] = c.rope_theta;
  j["rope_style"] = c.rope_style == model::RopeStyle::Interleaved ? "interleaved" : "half";
  if (c.rope_scaling) {
    j["rope_scaling"] = {{"factor", c.rope_scaling->factor},
                         {"low_freq_factor", c.rope_scaling->low_freq_factor},
                         {"high_freq_factor", c.rope_scaling->high_freq_factor},
                         {"original_max_position", c.rope_scaling->original_max_position}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["norm_eps"] = c.norm_eps;
  j["tie_embeddings"] = c.tie_embeddings;
  j["qkv_bias"] = c.qkv_bias;
  j["qk_norm"] = c.qk_norm;
  j["bos_id"] = c.bos_id;
  j["eos_id"] = c.eos_id;
  return j;
}

template <class T>
static T get_field(const nlohmann::json& j, const char* key, const std::string& source) {
  HESSQ_CHECK(j.is_object() && j.contains(key), "{}: missing field \"{}\"", source, key);
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    HESSQ_FAIL("{}: field \"{}\" has the wrong type ({})", source, key, j.at(key).dump());
  }
}

model::ModelConfig model_config_from_json(const nlohmann::json& j, const std::string& source) {
  model::ModelConfig c;
  const std::string arch = get_field<std::string>(j, "arch", source);
  bool known = false;
  for (model::Arch a : {model::Arch::Llama, model::Arch::Mistral, model::Arch::Qwen2, model::Arch::Qwen3})
    if (arch == model::arch_name(a)) c.arch = a, known = true;
  HESSQ_CHECK(known, "{}: unknown arch \"{}\"", source, arch);
  c.dim = get_field<int>(j, "dim", source);
  c.hidden_dim = get_field<int>(j, "hidden_dim", source);
  c.n_layers = get_field<int>(j, "n_layers", source);
  c.n_heads = get_field<int>(j, "n_heads", source);
  c.n_kv_heads = get_field<int>(j, "n_kv_heads", source);
  c.head_dim = get_field<int>(j, "head_dim", source);
  c.vocab_size = get_field<int>(j, "vocab_size", source);
  c.max_seq_len = get_field<int>(j, "max_seq_len", source);
  c.rope_theta = get_field<double>(j, "rope_theta", source);
  const std::string style = get_field<std::string>(j, "rope_style", source);
  HESSQ_CHECK(style == "interleaved" || style == "half", "{}: rope_style must be interleaved or half, got \"{}\"",
              source, style);
  c.rope_style = style == "interleaved" ? model::RopeStyle::Interleaved : model::RopeStyle::Half;
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const auto& s = j["rope_scaling"];
    const std::string src = source + " rope_scaling";
    c.rope_scaling = model::RopeScaling{get_field<double>(s, "factor", src), get_field<double>(s, "low_freq_factor", src),
                                        get_field<double>(s, "high_freq_factor", src),
                                        get_field<int>(s, "original_max_position", src)};
  }
  c.norm_eps = get_field<double>(j, "norm_eps", source);
  c.tie_embeddings = get_field<bool>(j, "tie_embeddings", source);
  c.qkv_bias = get_field<bool>(j, "qkv_bias", source);
  c.qk_norm = get_field<bool>(j, "qk_norm", source);
  c.bos_id = get_field<int>(j, "bos_id", source);
  c.eos_id = get_field<int>(j, "eos_id", source);
  c.validate(source);
  return c;
}

// ---- writing ----------------------------------------------------------------------------------------

static DType scale_storage_dtype(const std::string& scale_dtype, const std::string& name) {
  if (scale_dtype == "F32") return DType::F32;
  if (scale_dtype == "F16") return DType::F16;
  if (scale_dtype == "F8_E4M3") return DType::F8_E4M3;
  if (scale_dtype == "E8M0") return DType::U8;  // power-of-two exponents, one byte each
  HESSQ_FAIL("{}: unknown scale storage type \"{}\"", name, scale_dtype);
}

static SafetensorsEntry bytes_entry(const std::string& name, DType dtype, const std::vector<uint8_t>& bytes) {
  const size_t es = dtype_size(dtype);
  HESSQ_CHECK(bytes.size() % es == 0, "{}: {} bytes is not a whole number of {} values", name, bytes.size(),
              dtype_name(dtype));
  return SafetensorsEntry{name, dtype, {static_cast<int64_t>(bytes.size() / es)}, bytes.data(), bytes.size()};
}

void write_hessq(const std::string& dir, const model::Model& m, const HessqMeta& meta,
                 const std::map<std::string, std::string>& extra_files) {
  const model::ModelConfig& c = m.cfg;
  std::vector<SafetensorsEntry> entries;
  json linears = json::array();
  std::list<std::vector<uint8_t>> scratch;  // F16 low-rank factors, alive until the write
  int64_t q_params = 0, other_params = 0, extra_params = 0;
  double q_bits = 0;
  auto add_f32 = [&](const std::string& name, const Tensor& t) {
    entries.push_back(f32_entry(name, t));
    other_params += t.numel();
  };
  add_f32("model.embed_tokens.weight", m.tok_emb);
  add_f32("model.norm.weight", m.final_norm);
  if (!c.tie_embeddings) {
    auto* head = dynamic_cast<const model::DenseLinear*>(m.lm_head.get());
    HESSQ_CHECK(head != nullptr, "{}: lm_head must be a dense float linear to be stored", dir);
    add_f32("lm_head.weight", head->weight());
  }
  for (int l = 0; l < c.n_layers; ++l) {
    const model::LayerWeights& L = m.layers[l];
    add_f32(model::layer_tensor_name(l, "input_layernorm.weight"), L.attn_norm);
    add_f32(model::layer_tensor_name(l, "post_attention_layernorm.weight"), L.ffn_norm);
    if (c.qk_norm) {
      add_f32(model::layer_tensor_name(l, "self_attn.q_norm.weight"), L.q_norm);
      add_f32(model::layer_tensor_name(l, "self_attn.k_norm.weight"), L.k_norm);
    }
    for (model::Proj p : model::kAllProjs) {
      const std::string name = linear_tensor_prefix(l, p);
      const model::Linear& lin = L.linear(p);
      if (auto* d = dynamic_cast<const model::DenseLinear*>(&lin)) {
        add_f32(name + ".weight", d->weight());
        if (d->bias()) add_f32(name + ".bias", *d->bias());
        continue;
      }
      const StoredLinear st = split_stored_linear(lin, dir + ": " + name);
      const runtime::QuantizedLinear* q = st.residual;
      const formats::Packed& pk = q->packed();
      entries.push_back(bytes_entry(name + ".qweight", DType::U8, pk.codes));
      entries.push_back(bytes_entry(name + ".scales", scale_storage_dtype(pk.scale_dtype, name), pk.scales));
      if (!pk.zeros.empty()) entries.push_back(bytes_entry(name + ".zeros", DType::U8, pk.zeros));
      if (q->bias()) add_f32(name + ".bias", *q->bias());
      const int64_t mn = static_cast<int64_t>(q->out_features()) * q->in_features();
      q_params += mn;
      q_bits += st.bits_per_weight() * static_cast<double>(mn);
      if (st.act) extra_params += st.act->extra_params();
      json rec;
      rec["name"] = name;
      rec["layer"] = l;
      rec["proj"] = model::proj_name(p);
      rec["format"] = q->spec().name();
      rec["shape"] = {q->out_features(), q->in_features()};
      rec["stored_shape"] = {q->out_features(), q->stored_in_features()};  // zero-padded inputs when wider
      rec["bits_per_weight"] = st.bits_per_weight();
      rec["scale_dtype"] = pk.scale_dtype;
      rec["global_scale"] = pk.global_scale;
      add_w4a4_tensors(st, name, entries, scratch, rec);
      auto it = meta.diagnostics.find(name);
      rec["diagnostics"] = it != meta.diagnostics.end() ? it->second : json::object();
      linears.push_back(std::move(rec));
    }
  }

  json j;
  j["format"] = "hessq";
  j["format_version"] = kHessqFormatVersion;
  j["tool"] = {{"name", "hessq"}, {"version", HESSQ_VERSION}, {"commit", HESSQ_COMMIT}};
  j["source"] = m.source;
  j["config"] = model_config_json(c);
  try {
    j["hf_config"] = json::parse(hf_config_json(c));
  } catch (const Error&) {
    j["hf_config"] = nullptr;  // e.g. interleaved RoPE (llama2.c): HF config.json cannot express it
  }
  j["recipe"] = meta.recipe;
  j["calibration"] = meta.calibration;
  j["linears"] = std::move(linears);
  j["summary"] = meta.summary;
  const int64_t all = q_params + other_params;
  j["totals"] = {{"quantized_linears", j["linears"].size()},
                 {"quantized_params", q_params},
                 {"total_params", all},
                 {"bits_per_weight_quantized", q_params > 0 ? q_bits / static_cast<double>(q_params) : 32.0},
                 {"bits_per_weight_all", all > 0 ? (q_bits + 32.0 * static_cast<double>(other_params)) / all : 0.0}};
  if (extra_params > 0) {
    j["totals"]["extra_params"] = extra_params;
    j["totals"]["extra_params_pct"] = q_params > 0 ? 100.0 * static_cast<double>(extra_params) / q_params : 0.0;
  }
  std::vector<std::string> extra;
  for (const auto& kv : extra_files) extra.push_back(kv.first);
  j["files"] = extra;
  j["timing"] = meta.timing;

  AtomicDir out(dir);
  const fs::path tmp(out.tmp_path());
  write_safetensors((tmp / kWeightsFile).string(), std::move(entries), {{"format", "hessq"}});
  for (const auto& [name, contents] : extra_files) write_file_atomic((tmp / name).string(), contents);
  write_file_atomic((tmp / kHessqManifestFile).string(), j.dump(2) + "\n");
  out.commit();
}

// ---- reading ----------------------------------------------------------------------------------------

json read_hessq_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / kHessqManifestFile).string();
  std::ifstream f(path, std::ios::binary);
  HESSQ_CHECK(f.good(), "{}: cannot open", path);
  std::string text((std::istreambuf_iterator<char>(f)), {});
  json j = json::parse(text, nullptr, false);
  HESSQ_CHECK(!j.is_discarded() && j.is_object(), "{}: not a JSON object", path);
  HESSQ_CHECK(j.value("format", "") == "hessq", "{}: \"format\" must be \"hessq\"", path);
  const int version = get_field<int>(j, "format_version", path);
  HESSQ_CHECK(version >= 1 && version <= kHessqFormatVersion,
              "{}: .hessq format version {} is newer than this hessq ({}, commit {}) reads (version {}); "
              "upgrade hessq",
              path, version, HESSQ_VERSION, HESSQ_COMMIT, kHessqFormatVersion);
  HESSQ_CHECK(j.contains("linears") && j["linears"].is_array(), "{}: \"linears\" must be an array", path);
  return j;
}

namespace {

struct QuantRecord {
  int layer = 0;
  model::Proj proj = model::Proj::Q;
  formats::QuantSpec spec;
  formats::Packed packed;
  Tensor W_q;             // [m, n]
  int64_t stored_in = 0;  // n' >= n: the packed arrays cover [m, n'] (zero-padded inputs)
  std::shared_ptr<model::Linear> w4a4;  // the W4A4 layer (activation quantizer, branch, rotation), if any
};

struct HessqContents {
  Checkpoint ck;
  std::vector<QuantRecord> quantized;
};

std::vector<uint8_t> raw_bytes(const SafetensorsFile& f, const std::string& name) {
  auto r = f.raw(name);
  return std::vector<uint8_t>(r.begin(), r.end());
}

model::Proj proj_from_name(const std::string& s, const std::string& source) {
  for (model::Proj p : model::kAllProjs)
    if (s == model::proj_name(p)) return p;
  HESSQ_FAIL("{}: unknown projection \"{}\"", source, s);
}

HessqContents read_contents(const std::string& dir) {
  json j = read_hessq_manifest(dir);
  const std::string manifest = (fs::path(dir) / kHessqManifestFile).string();
  HessqContents out;
  out.ck.cfg = model_config_from_json(j.at("config"), manifest + " config");
  const std::string weights = (fs::path(dir) / kWeightsFile).string();
  auto file = SafetensorsFile::open(weights);
  std::set<std::string> claimed;
  for (const auto& rec : j["linears"]) {
    const std::string name = get_field<std::string>(rec, "name", manifest + " linear");
    const std::string src = manifest + " linear " + name;
    QuantRecord q;
    q.layer = get_field<int>(rec, "layer", src);
    q.proj = proj_from_name(get_field<std::string>(rec, "proj", src), src);
    HESSQ_CHECK(name == linear_tensor_prefix(q.layer, q.proj), "{}: layer/proj do not match the name", src);
    q.spec = formats::parse_spec(get_field<std::string>(rec, "format", src));
    const auto shape = get_field<std::vector<int64_t>>(rec, "shape", src);
    HESSQ_CHECK(shape.size() == 2 && shape[0] > 0 && shape[1] > 0, "{}: shape must be [out, in]", src);
    const int64_t m = shape[0], n = shape[1];
    const auto stored = rec.contains("stored_shape") ? get_field<std::vector<int64_t>>(rec, "stored_shape", src) : shape;
    HESSQ_CHECK(stored.size() == 2 && stored[0] == m && stored[1] >= n, "{}: stored_shape must be [{}, >= {}]", src, m,
                n);
    const int64_t ns = stored[1];
    q.stored_in = ns;
    q.packed.scale_dtype = get_field<std::string>(rec, "scale_dtype", src);
    q.packed.global_scale = get_field<float>(rec, "global_scale", src);
    q.packed.codes = raw_bytes(*file, name + ".qweight");
    q.packed.scales = raw_bytes(*file, name + ".scales");
    claimed.insert(name + ".qweight");
    claimed.insert(name + ".scales");
    if (file->find(name + ".zeros")) {
      q.packed.zeros = raw_bytes(*file, name + ".zeros");
      claimed.insert(name + ".zeros");
    }
    // Sizes must be exactly what this format packs for [m, n] before anything is decoded.
    const std::vector<float> zero(static_cast<size_t>(m * ns), 0.0f);
    const formats::Packed ref = formats::pack(q.spec, zero.data(), m, ns);
    HESSQ_CHECK(q.packed.codes.size() == ref.codes.size() && q.packed.scales.size() == ref.scales.size() &&
                    q.packed.zeros.size() == ref.zeros.size() && q.packed.scale_dtype == ref.scale_dtype,
                "{}: stored codes/scales/zeros have {}/{}/{} bytes ({}), expected {}/{}/{} ({}) for {} [{}, {}]", src,
                q.packed.codes.size(), q.packed.scales.size(), q.packed.zeros.size(), q.packed.scale_dtype,
                ref.codes.size(), ref.scales.size(), ref.zeros.size(), ref.scale_dtype, q.spec.name(), m, ns);
    std::vector<float> decoded(static_cast<size_t>(m * ns));
    formats::unpack(q.spec, q.packed, m, ns, decoded.data());
    q.W_q = Tensor::zeros({m, n});
    for (int64_t r = 0; r < m; ++r)
      std::copy(decoded.begin() + r * ns, decoded.begin() + r * ns + n, q.W_q.ptr() + r * n);
    out.ck.tensors[name + ".weight"] = q.W_q;
    if (rec.contains("act_format") || (rec.contains("input_transform") && !rec["input_transform"].is_null())) {
      std::optional<Tensor> bias;
      if (file->find(name + ".bias")) bias = file->to_f32(name + ".bias").clone();
      auto residual = std::make_shared<runtime::QuantizedLinear>(q.spec, q.packed, q.W_q, std::move(bias), q.stored_in);
      q.w4a4 = build_stored_linear(residual, rec, *file, claimed, name, src);
      out.ck.tensors[name + ".weight"] = float_equivalent_weight(*q.w4a4, src);  // convert / inspect see this
    }
    out.quantized.push_back(std::move(q));
  }
  for (const auto& t : file->tensors()) {
    if (claimed.count(t.name)) continue;
    HESSQ_CHECK(t.dtype == DType::F32, "{}: tensor {} is {} but no quantized linear in {} claims it", weights,
                t.name, dtype_name(t.dtype), kHessqManifestFile);
    HESSQ_CHECK(!out.ck.tensors.count(t.name), "{}: tensor {} is stored both quantized and in F32", weights, t.name);
    out.ck.tensors[t.name] = file->to_f32(t.name);
  }
  return out;
}

}  // namespace

Checkpoint read_hessq_checkpoint(const std::string& dir) { return read_contents(dir).ck; }

model::Model load_hessq_model(const std::string& dir) {
  HessqContents c = read_contents(dir);
  model::Model m = model::build_model(c.ck.cfg, c.ck.tensors, dir);
  for (QuantRecord& q : c.quantized) {
    auto& slot = m.layers[q.layer].linear(q.proj);
    auto* dense = dynamic_cast<const model::DenseLinear*>(slot.get());
    std::optional<Tensor> bias = dense ? dense->bias() : std::nullopt;
    if (q.w4a4) {
      slot = q.w4a4;
      continue;
    }
    slot = std::make_shared<runtime::QuantizedLinear>(q.spec, std::move(q.packed), q.W_q, std::move(bias), q.stored_in);
  }
  return m;
}

}  // namespace hessq::io
