#include "hessq/io/hessq_format.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <list>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

#include "hessq/commit.hpp"
#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/io/hessq_linear.hpp"
#include "hessq/io/hf_config.hpp"
#include "hessq/io/json_field.hpp"
#include "hessq/io/safetensors.hpp"
#include "hessq/model/layout.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace hessq::io {

static constexpr const char* kSingleWeightsFile = "model.safetensors";  // format version 1
static constexpr const char* kIndexFile = "model.safetensors.index.json";
static constexpr const char* kRunFile = "run.json";
static constexpr const char* kTensorsRecord = "tensors.json";

bool is_hessq_dir(const std::string& path) {
  return fs::is_directory(path) && fs::exists(fs::path(path) / kHessqManifestFile);
}

std::string hessq_partial_dir(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d + ".partial";
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

model::ModelConfig model_config_from_json(const nlohmann::json& j, const std::string& source) {
  model::ModelConfig c;
  const std::string arch = json_field<std::string>(j, "arch", source);
  bool known = false;
  for (model::Arch a : {model::Arch::Llama, model::Arch::Mistral, model::Arch::Qwen2, model::Arch::Qwen3})
    if (arch == model::arch_name(a)) c.arch = a, known = true;
  HESSQ_CHECK(known, "{}: unknown arch \"{}\"", source, arch);
  c.dim = json_field<int>(j, "dim", source);
  c.hidden_dim = json_field<int>(j, "hidden_dim", source);
  c.n_layers = json_field<int>(j, "n_layers", source);
  c.n_heads = json_field<int>(j, "n_heads", source);
  c.n_kv_heads = json_field<int>(j, "n_kv_heads", source);
  c.head_dim = json_field<int>(j, "head_dim", source);
  c.vocab_size = json_field<int>(j, "vocab_size", source);
  c.max_seq_len = json_field<int>(j, "max_seq_len", source);
  c.rope_theta = json_field<double>(j, "rope_theta", source);
  const std::string style = json_field<std::string>(j, "rope_style", source);
  HESSQ_CHECK(style == "interleaved" || style == "half", "{}: rope_style must be interleaved or half, got \"{}\"",
              source, style);
  c.rope_style = style == "interleaved" ? model::RopeStyle::Interleaved : model::RopeStyle::Half;
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const auto& s = j["rope_scaling"];
    const std::string src = source + " rope_scaling";
    c.rope_scaling = model::RopeScaling{json_field<double>(s, "factor", src), json_field<double>(s, "low_freq_factor", src),
                                        json_field<double>(s, "high_freq_factor", src),
                                        json_field<int>(s, "original_max_position", src)};
  }
  c.norm_eps = json_field<double>(j, "norm_eps", source);
  c.tie_embeddings = json_field<bool>(j, "tie_embeddings", source);
  c.qkv_bias = json_field<bool>(j, "qkv_bias", source);
  c.qk_norm = json_field<bool>(j, "qk_norm", source);
  c.bos_id = json_field<int>(j, "bos_id", source);
  c.eos_id = json_field<int>(j, "eos_id", source);
  c.validate(source);
  return c;
}

// ---- writing ----------------------------------------------------------------------------------------

namespace {

json read_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HESSQ_CHECK(f.good(), "{}: cannot open", path);
  json j = json::parse(std::string((std::istreambuf_iterator<char>(f)), {}), nullptr, false);
  HESSQ_CHECK(!j.is_discarded() && j.is_object(), "{}: not a JSON object", path);
  return j;
}

std::string block_record_file(int layer) { return fmt::format("block-{:05}.json", layer); }

// Bits a stored value of this dtype takes.
double dtype_bits(DType d) { return 8.0 * static_cast<double>(dtype_size(d)); }

// The keys whose values differ between two fingerprints (for the resume error).
std::string differing_keys(const json& a, const json& b) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : a.items())
    if (!b.contains(k) || b[k] != v) keys.push_back(k);
  for (const auto& [k, v] : b.items())
    if (!a.contains(k)) keys.push_back(k);
  return fmt::format("{}", fmt::join(keys, ", "));
}

// Every tensor of the safetensors files at `path` (a file, an index, a directory of either), by name.
std::map<std::string, StoredTensor> stored_tensors_at(const std::string& path) {
  std::map<std::string, StoredTensor> out;
  for (const auto& file : open_safetensors(path))
    for (const SafetensorsTensorInfo& info : file->tensors()) out.emplace(info.name, file->stored(info.name));
  return out;
}

}  // namespace

HessqWriter::HessqWriter(std::string dir, int n_layers, json fingerprint, bool resume, bool force)
    : dir_(std::move(dir)), n_layers_(n_layers), force_(force) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  partial_ = hessq_partial_dir(dir_);
  const fs::path parent = fs::path(dir_).parent_path();
  HESSQ_CHECK(parent.empty() || fs::is_directory(parent), "{}: output directory {} does not exist", dir_,
              parent.string());
  if (fs::exists(dir_) || fs::is_symlink(dir_)) {
    HESSQ_CHECK(is_hessq_dir(dir_),
                "{}: exists and is not a .hessq output; refusing to overwrite it (choose another --out or remove it)",
                dir_);
    HESSQ_CHECK(force_, "{}: already holds a quantized model; pass --force to replace it", dir_);
  }
  const std::string run_file = (fs::path(partial_) / kRunFile).string();
  if (fs::exists(partial_)) {
    HESSQ_CHECK(fs::is_directory(partial_) && fs::exists(run_file),
                "{}: exists but is not an interrupted hessq run; remove it", partial_);
    if (!resume && !fs::exists(fs::path(partial_) / block_record_file(0))) {
      fs::remove_all(partial_);  // an interrupted run that completed no block: nothing to keep
      fs::create_directory(partial_);
      write_file_atomic(run_file, fingerprint.dump(2) + "\n");
      return;
    }
    HESSQ_CHECK(resume,
                "{}: an interrupted run of this output is there; rerun the same command with --resume to continue it, "
                "or remove the directory to start over",
                partial_);
    const json before = read_json(run_file);
    HESSQ_CHECK(before == fingerprint,
                "{}: --resume with a different command or input than the interrupted run (differs in: {}); rerun "
                "the original command, or remove {} to start over",
                partial_, differing_keys(before, fingerprint), partial_);
    while (completed_ < n_layers_ && fs::exists(fs::path(partial_) / block_record_file(completed_))) ++completed_;
    spdlog::info("{}: resuming after {} of {} completed blocks", partial_, completed_, n_layers_);
    return;
  }
  if (resume) spdlog::info("{}: nothing to resume; starting", partial_);
  fs::create_directory(partial_);
  write_file_atomic(run_file, fingerprint.dump(2) + "\n");
}

std::string HessqWriter::shard_name(int index) const {
  return fmt::format("model-{:05}-of-{:05}.safetensors", index + 1, n_layers_ + 1);
}

void HessqWriter::write_block(int layer, const model::LayerWeights& L, const model::ModelConfig& cfg,
                              const std::map<std::string, json>& diagnostics) {
  HESSQ_CHECK(layer == completed_, "{}: block {} written out of order (next is {})", partial_, layer, completed_);
  std::vector<SafetensorsEntry> entries;
  std::list<std::vector<uint8_t>> scratch;
  std::vector<Tensor> norms;
  int64_t other_params = 0;
  auto add_norm = [&](const std::string& suffix, const Tensor& t) {
    norms.push_back(t);
    entries.push_back(SafetensorsEntry{model::layer_tensor_name(layer, suffix), DType::F32, t.shape, t.ptr(),
                                       static_cast<size_t>(t.numel()) * sizeof(float)});
    other_params += t.numel();
  };
  add_norm("input_layernorm.weight", L.attn_norm);
  add_norm("post_attention_layernorm.weight", L.ffn_norm);
  if (cfg.qk_norm) {
    add_norm("self_attn.q_norm.weight", L.q_norm);
    add_norm("self_attn.k_norm.weight", L.k_norm);
  }
  json records = json::array();
  for (model::Proj p : model::kAllProjs) {
    json rec;
    linear_entries(L.linear(p), layer, p, entries, scratch, rec, other_params);
    if (rec.is_null()) continue;
    auto it = diagnostics.find(rec["name"].get<std::string>());
    rec["diagnostics"] = it != diagnostics.end() ? it->second : json::object();
    records.push_back(std::move(rec));
  }
  json block = {{"layer", layer}, {"shard", shard_name(layer)}, {"tensors", json::array()}};
  for (const SafetensorsEntry& e : entries) block["tensors"].push_back(e.name);
  block["linears"] = std::move(records);
  block["other_params"] = other_params;
  block["other_bits"] = 32.0 * static_cast<double>(other_params);
  write_safetensors((fs::path(partial_) / shard_name(layer)).string(), std::move(entries), {{"format", "hessq"}});
  // The record comes last: a block counts as done only once its shard is complete.
  write_file_atomic((fs::path(partial_) / block_record_file(layer)).string(), block.dump(1) + "\n");
  ++completed_;
}

model::LayerWeights HessqWriter::load_block(int layer, const model::ModelConfig& cfg) const {
  HESSQ_CHECK(layer < completed_, "{}: block {} is not complete", partial_, layer);
  const std::string rec_file = (fs::path(partial_) / block_record_file(layer)).string();
  const json block = read_json(rec_file);
  const std::map<std::string, StoredTensor> tensors =
      stored_tensors_at((fs::path(partial_) / json_field<std::string>(block, "shard", rec_file)).string());
  std::set<std::string> claimed;
  model::LayerWeights L;
  for (const auto& rec : block.at("linears")) {
    const std::string name = json_field<std::string>(rec, "name", rec_file);
    const std::string proj = name.substr(name.rfind('.') + 1);
    for (model::Proj p : model::kAllProjs)
      if (proj == model::proj_name(p)) L.linear(p) = linear_from_record(rec, tensors, claimed, rec_file);
  }
  auto get = [&](const std::string& name) {
    auto it = tensors.find(name);
    HESSQ_CHECK(it != tensors.end(), "{}: tensor {} is missing", rec_file, name);
    return it->second.to_f32().clone();
  };
  L.attn_norm = get(model::layer_tensor_name(layer, "input_layernorm.weight"));
  L.ffn_norm = get(model::layer_tensor_name(layer, "post_attention_layernorm.weight"));
  if (cfg.qk_norm) {
    L.q_norm = get(model::layer_tensor_name(layer, "self_attn.q_norm.weight"));
    L.k_norm = get(model::layer_tensor_name(layer, "self_attn.k_norm.weight"));
  }
  for (model::Proj p : model::kAllProjs) {
    if (L.linear(p)) continue;  // a float linear
    const std::string name = model::linear_name(layer, p);
    std::optional<Tensor> bias;
    if (tensors.count(name + ".bias")) bias = get(name + ".bias");
    L.linear(p) = std::make_shared<model::DenseLinear>(get(name + ".weight"), bias);
  }
  return L;
}

void HessqWriter::write_tensors(const model::ModelConfig& cfg, const std::vector<StoredTensor>& tensors,
                                const QuantizedTensors& quantized) {
  cfg_ = cfg;
  std::vector<SafetensorsEntry> entries;
  json rec = {{"shard", shard_name(n_layers_)}, {"config", model_config_json(cfg)}, {"tensors", json::array()}};
  int64_t params = 0;
  double bits = 0;
  std::vector<Tensor> converted;  // block-quantized GGUF tensors are stored as their fp32 values
  converted.reserve(tensors.size());
  for (const StoredTensor& t : tensors) {
    if (t.ggml_type) {
      converted.push_back(t.to_f32(false));
      const Tensor& f = converted.back();
      entries.push_back(SafetensorsEntry{t.name, DType::F32, t.shape, reinterpret_cast<const uint8_t*>(f.ptr()),
                                         static_cast<size_t>(f.numel()) * sizeof(float)});
    } else {
      entries.push_back(SafetensorsEntry{t.name, t.dtype, t.shape, t.data, t.nbytes});
    }
    rec["tensors"].push_back(t.name);
    params += t.numel();
    bits += dtype_bits(entries.back().dtype) * static_cast<double>(t.numel());
  }
  rec["quantized"] = json::array();
  for (const auto& [name, q] : quantized) {
    const size_t first = entries.size();
    rec["quantized"].push_back(quantized_entries(*q, name, entries));
    for (size_t i = first; i < entries.size(); ++i) rec["tensors"].push_back(entries[i].name);
    const double mn = static_cast<double>(q->out_features()) * q->in_features();
    params += q->out_features() * static_cast<int64_t>(q->in_features()) + (q->bias() ? q->out_features() : 0);
    bits += q->bits_per_weight() * mn + (q->bias() ? 32.0 * q->out_features() : 0.0);
  }
  rec["other_params"] = params;
  rec["other_bits"] = bits;
  write_safetensors((fs::path(partial_) / shard_name(n_layers_)).string(), std::move(entries), {{"format", "hessq"}});
  for (const StoredTensor& t : tensors) t.release();
  write_file_atomic((fs::path(partial_) / kTensorsRecord).string(), rec.dump(1) + "\n");
  tensors_done_ = true;
}

std::map<std::string, json> HessqWriter::diagnostics() const {
  std::map<std::string, json> out;
  for (int l = 0; l < completed_; ++l) {
    const json block = read_json((fs::path(partial_) / block_record_file(l)).string());
    for (const auto& rec : block.at("linears")) out[rec.at("name").get<std::string>()] = rec.at("diagnostics");
  }
  return out;
}

void HessqWriter::commit(const HessqMeta& meta, const std::map<std::string, std::string>& extra_files) {
  HESSQ_CHECK(completed_ == n_layers_ && tensors_done_, "{}: {} of {} blocks written{}; nothing to commit", partial_,
              completed_, n_layers_, tensors_done_ ? "" : " and no embedding/head");
  const fs::path part(partial_);
  json linears = json::array(), weight_map = json::object();
  int64_t q_params = 0, other_params = 0, extra_params = 0, total_size = 0;
  double q_bits = 0, other_bits = 0;
  std::vector<std::string> shards;
  auto add_record = [&](const json& rec) {
    for (const auto& t : rec.at("tensors")) weight_map[t.get<std::string>()] = rec.at("shard");
    other_params += rec.at("other_params").get<int64_t>();
    other_bits += rec.at("other_bits").get<double>();
    shards.push_back(rec.at("shard").get<std::string>());
    total_size += static_cast<int64_t>(fs::file_size(part / shards.back()));
  };
  for (int l = 0; l < n_layers_; ++l) {
    const json block = read_json((part / block_record_file(l)).string());
    add_record(block);
    for (const auto& rec : block.at("linears")) {
      const auto shape = rec.at("shape");
      const int64_t mn = shape[0].get<int64_t>() * shape[1].get<int64_t>();
      q_params += mn;
      q_bits += rec.at("bits_per_weight").get<double>() * static_cast<double>(mn);
      extra_params += rec.value("extra_params", int64_t{0});
      linears.push_back(rec);
    }
  }
  const json tensors_rec = read_json((part / kTensorsRecord).string());
  add_record(tensors_rec);

  json j;
  j["format"] = "hessq";
  j["format_version"] = kHessqFormatVersion;
  j["tool"] = {{"name", "hessq"}, {"version", HESSQ_VERSION}, {"commit", HESSQ_COMMIT}};
  j["source"] = meta.source;
  j["config"] = model_config_json(cfg_);
  try {
    j["hf_config"] = json::parse(hf_config_json(cfg_));
  } catch (const Error&) {
    j["hf_config"] = nullptr;  // e.g. interleaved RoPE (llama2.c): HF config.json cannot express it
  }
  j["recipe"] = meta.recipe;
  j["calibration"] = meta.calibration;
  j["linears"] = std::move(linears);
  j["embeddings"] = tensors_rec.value("quantized", json::array());
  j["summary"] = meta.summary;
  const int64_t all = q_params + other_params;
  j["totals"] = {{"quantized_linears", j["linears"].size()},
                 {"quantized_params", q_params},
                 {"total_params", all},
                 {"bits_per_weight_quantized", q_params > 0 ? q_bits / static_cast<double>(q_params) : 32.0},
                 {"bits_per_weight_all", all > 0 ? (q_bits + other_bits) / static_cast<double>(all) : 0.0},
                 {"stored_bytes", total_size}};
  if (extra_params > 0) {
    j["totals"]["extra_params"] = extra_params;
    j["totals"]["extra_params_pct"] = q_params > 0 ? 100.0 * static_cast<double>(extra_params) / q_params : 0.0;
  }
  std::vector<std::string> extra;
  for (const auto& kv : extra_files) extra.push_back(kv.first);
  j["files"] = extra;
  j["shards"] = shards;
  j["timing"] = meta.timing;

  write_file_atomic((part / kIndexFile).string(),
                    json{{"metadata", {{"total_size", total_size}, {"format", "hessq"}}}, {"weight_map", weight_map}}
                            .dump(1) + "\n");
  for (const auto& [name, contents] : extra_files) write_file_atomic((part / name).string(), contents);
  write_file_atomic((part / kHessqManifestFile).string(), j.dump(2) + "\n");
  // The side directory's own state goes; then it takes the output's name. A replaced output is moved
  // aside first, so a kill between the renames loses nothing.
  std::error_code ec;
  for (int l = 0; l < n_layers_; ++l) fs::remove(part / block_record_file(l), ec);
  fs::remove(part / kTensorsRecord, ec);
  fs::remove(part / kRunFile, ec);
  const std::string old = dir_ + ".replaced";
  if (fs::exists(dir_)) {
    HESSQ_CHECK(force_ && is_hessq_dir(dir_), "{}: appeared during the run; refusing to overwrite it", dir_);
    fs::remove_all(old, ec);
    fs::rename(dir_, old, ec);
    HESSQ_CHECK(!ec, "{}: cannot move the previous output aside: {}", dir_, ec.message());
  }
  fs::rename(partial_, dir_, ec);
  HESSQ_CHECK(!ec, "{}: cannot rename {} into place: {}", dir_, partial_, ec.message());
  fs::remove_all(old, ec);
}

void write_hessq(const std::string& dir, const model::Model& m, const HessqMeta& meta,
                 const std::map<std::string, json>& diagnostics, const std::map<std::string, std::string>& extra_files) {
  fs::remove_all(dir + ".partial");
  HessqWriter w(dir, m.cfg.n_layers, json{{"in_memory_model", m.source}}, false, true);
  for (int l = 0; l < m.cfg.n_layers; ++l) w.write_block(l, m.layers[l], m.cfg, diagnostics);
  std::vector<StoredTensor> t = {stored_f32("model.norm.weight", m.final_norm, m.source)};
  QuantizedTensors q;
  if (m.tok_emb_q) q.emplace_back("model.embed_tokens", m.tok_emb_q);
  else t.push_back(stored_f32("model.embed_tokens.weight", m.tok_emb, m.source));
  if (!m.cfg.tie_embeddings) {
    if (auto qh = std::dynamic_pointer_cast<const model::QuantizedLinear>(m.lm_head)) {
      q.emplace_back("lm_head", qh);
    } else {
      auto* head = dynamic_cast<const model::DenseLinear*>(m.lm_head.get());
      HESSQ_CHECK(head != nullptr, "{}: lm_head must be a dense float or a quantized linear to be stored", dir);
      t.push_back(stored_f32("lm_head.weight", head->weight(), m.source));
    }
  }
  w.write_tensors(m.cfg, t, q);
  w.commit(meta, extra_files);
}

// ---- reading ----------------------------------------------------------------------------------------

json read_hessq_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / kHessqManifestFile).string();
  json j = read_json(path);
  HESSQ_CHECK(j.is_object() && j.contains("format") && j["format"] == "hessq", "{}: \"format\" must be \"hessq\"", path);
  const int version = json_field<int>(j, "format_version", path);
  HESSQ_CHECK(version >= 1 && version <= kHessqFormatVersion,
              "{}: .hessq format version {} is newer than this hessq ({}, commit {}) reads (version {}); "
              "upgrade hessq",
              path, version, HESSQ_VERSION, HESSQ_COMMIT, kHessqFormatVersion);
  HESSQ_CHECK(j.contains("linears") && j["linears"].is_array(), "{}: \"linears\" must be an array", path);
  return j;
}

namespace {

struct HessqContents {
  Checkpoint ck;                                          // float tensors; quantized linears as float equivalents
  std::map<std::string, std::shared_ptr<model::Linear>> quantized;  // by linear name
};

// float_equivalents: also each quantized linear's float weight (convert, inspect); a model to run needs none.
HessqContents read_contents_unchecked(const std::string& dir, const json& j, const std::string& manifest,
                                      bool float_equivalents) {
  HessqContents out;
  out.ck.cfg = model_config_from_json(j.at("config"), manifest + " config");
  const fs::path single = fs::path(dir) / kSingleWeightsFile;
  const std::string weights = fs::exists(single) ? single.string() : (fs::path(dir) / kIndexFile).string();
  const std::map<std::string, StoredTensor> tensors = stored_tensors_at(weights);
  std::set<std::string> claimed;
  for (const auto& rec : j["linears"]) {
    std::shared_ptr<model::Linear> lin = linear_from_record(rec, tensors, claimed, manifest);
    const std::string name = rec.at("name").get<std::string>();
    if (float_equivalents) out.ck.tensors[name + ".weight"] = float_equivalent_weight(*lin, manifest + " linear " + name);
    if (tensors.count(name + ".bias")) out.ck.tensors[name + ".bias"] = tensors.at(name + ".bias").to_f32(false);
    out.quantized[name] = std::move(lin);
  }
  if (j.contains("embeddings"))
    for (const auto& rec : j["embeddings"]) {
      const std::string name = json_field<std::string>(rec, "name", manifest + " embeddings");
      HESSQ_CHECK(name == "model.embed_tokens" || name == "lm_head",
                  "{}: embeddings record \"{}\" (expected model.embed_tokens or lm_head)", manifest, name);
      auto q = quantized_from_record(rec, name, tensors, claimed, manifest + " " + name);
      if (float_equivalents) out.ck.tensors[name + ".weight"] = q->dequantized();
      out.quantized[name] = std::move(q);
    }
  for (const auto& [name, t] : tensors) {
    if (claimed.count(name)) continue;
    HESSQ_CHECK(t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16,
                "{}: tensor {} is {} but no quantized linear in {} claims it", weights, name, dtype_name(t.dtype),
                kHessqManifestFile);
    HESSQ_CHECK(!out.ck.tensors.count(name), "{}: tensor {} is stored both quantized and in float", weights, name);
    out.ck.tensors[name] = t.to_f32(false);
  }
  return out;
}

// A manifest whose values have unexpected JSON types (a record field that is a number where a
// string belongs, say) is an error naming the manifest, not a JSON library exception.
HessqContents read_contents(const std::string& dir, bool float_equivalents) {
  const json j = read_hessq_manifest(dir);
  const std::string manifest = (fs::path(dir) / kHessqManifestFile).string();
  if (json_field<int>(j, "format_version", manifest) < 3)
    spdlog::info("{}: format version {} stores INT weights in the planar layout; they run decoded to fp32 (quantize "
                 "again for packed execution)",
                 manifest, json_field<int>(j, "format_version", manifest));
  try {
    return read_contents_unchecked(dir, j, manifest, float_equivalents);
  } catch (const nlohmann::json::exception& e) {
    HESSQ_FAIL("{}: unexpected structure: {}", manifest, e.what());
  }
}

}  // namespace

Checkpoint read_hessq_checkpoint(const std::string& dir) { return read_contents(dir, true).ck; }

// The quantized linears run as stored (packed); only the float tensors are read as fp32.
model::Model load_hessq_model(const std::string& dir) {
  HessqContents c = read_contents(dir, false);
  return model::build_model(c.ck.cfg, std::move(c.ck.tensors), dir, c.quantized);
}

}  // namespace hessq::io
