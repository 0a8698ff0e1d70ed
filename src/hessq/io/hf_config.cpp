#include "hessq/io/hf_config.hpp"

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hessq/core/error.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hessq::io {

namespace {

constexpr const char* kSupported = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM";

// Typed access to the keys of one JSON object; errors name the source and the key (with `prefix`,
// e.g. "rope_scaling."). A key holding null counts as missing.
struct Fields {
  const json& obj;
  const std::string& source;
  std::string prefix;

  const json* find(const char* key) const {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  const json& require(const char* key) const {
    const json* v = find(key);
    HESSQ_CHECK(v != nullptr, "{}: missing required key \"{}{}\"", source, prefix, key);
    return *v;
  }
  [[noreturn]] void wrong_type(const char* key, const char* expected, const json& v) const {
    HESSQ_FAIL("{}: key \"{}{}\" is {} ({}), expected {}", source, prefix, key, v.type_name(), v.dump(), expected);
  }
  int to_int(const char* key, const json& v) const {
    if (!v.is_number_integer()) wrong_type(key, "an integer", v);
    constexpr int64_t lo = std::numeric_limits<int>::min(), hi = std::numeric_limits<int>::max();
    bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(hi)
                                       : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
    HESSQ_CHECK(fits, "{}: key \"{}{}\" = {} is out of range for an int", source, prefix, key, v.dump());
    return static_cast<int>(v.get<int64_t>());
  }
  int integer(const char* key) const { return to_int(key, require(key)); }
  int integer(const char* key, int fallback) const {
    const json* v = find(key);
    return v ? to_int(key, *v) : fallback;
  }
  double number(const char* key) const {
    const json& v = require(key);
    if (!v.is_number()) wrong_type(key, "a number", v);
    return v.get<double>();
  }
  double number(const char* key, double fallback) const { return find(key) ? number(key) : fallback; }
  bool boolean(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) wrong_type(key, "a boolean", *v);
    return v->get<bool>();
  }
  std::string string(const char* key) const {
    const json& v = require(key);
    if (!v.is_string()) wrong_type(key, "a string", v);
    return v.get<std::string>();
  }
  // bos_token_id / eos_token_id: an integer, or a list whose first entry counts; missing -> -1.
  int token_id(const char* key) const {
    const json* v = find(key);
    if (!v) return -1;
    if (v->is_array()) return v->empty() ? -1 : to_int(key, v->front());
    return to_int(key, *v);
  }
};

model::Arch parse_arch(const Fields& f) {
  std::string name;
  if (const json* archs = f.find("architectures")) {
    if (!archs->is_array() || archs->empty() || !archs->front().is_string())
      f.wrong_type("architectures", "a non-empty list of strings", *archs);
    name = archs->front().get<std::string>();
  } else if (f.find("model_type")) {  // older configs name only the model type ("llama", "qwen2", ...)
    name = f.string("model_type");
    for (auto a : {model::Arch::Llama, model::Arch::Mistral, model::Arch::Qwen2, model::Arch::Qwen3})
      if (name == model::arch_name(a)) return a;
  } else {
    f.require("architectures");  // throws: missing key
  }
  auto arch = model::arch_from_hf(name);
  HESSQ_CHECK(arch.has_value(), "{}: unsupported architecture '{}' (supported: {})", f.source, name, kSupported);
  return *arch;
}

std::optional<model::RopeScaling> parse_rope_scaling(const Fields& f) {
  const json* rs = f.find("rope_scaling");
  if (!rs) return std::nullopt;
  if (!rs->is_object()) f.wrong_type("rope_scaling", "an object or null", *rs);
  Fields r{*rs, f.source, "rope_scaling."};
  std::string type = r.find("rope_type") ? r.string("rope_type") : r.string("type");
  if (type == "default") return std::nullopt;
  HESSQ_CHECK(type == "llama3", "{}: unsupported rope_scaling type '{}' (supported: llama3, default)", f.source, type);
  model::RopeScaling s;
  s.factor = r.number("factor");
  s.low_freq_factor = r.number("low_freq_factor");
  s.high_freq_factor = r.number("high_freq_factor");
  s.original_max_position = r.integer("original_max_position_embeddings");
  return s;
}

}  // namespace

model::ModelConfig parse_hf_config(const std::string& json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    HESSQ_FAIL("{}: not valid JSON: {}", source, e.what());
  }
  HESSQ_CHECK(j.is_object(), "{}: config is a JSON {}, expected an object", source, j.type_name());
  Fields f{j, source, ""};

  model::ModelConfig cfg;
  cfg.arch = parse_arch(f);
  cfg.dim = f.integer("hidden_size");
  cfg.hidden_dim = f.integer("intermediate_size");
  cfg.n_layers = f.integer("num_hidden_layers");
  cfg.n_heads = f.integer("num_attention_heads");
  cfg.n_kv_heads = f.integer("num_key_value_heads", cfg.n_heads);
  if (f.find("head_dim")) {
    cfg.head_dim = f.integer("head_dim");
  } else {
    HESSQ_CHECK(cfg.n_heads > 0 && cfg.dim % cfg.n_heads == 0,
                "{}: hidden_size {} is not a multiple of num_attention_heads {} and no head_dim is given", source,
                cfg.dim, cfg.n_heads);
    cfg.head_dim = cfg.dim / cfg.n_heads;
  }
  cfg.vocab_size = f.integer("vocab_size");
  cfg.max_seq_len = f.integer("max_position_embeddings");
  cfg.rope_theta = f.number("rope_theta", 10000.0);
  cfg.rope_scaling = parse_rope_scaling(f);
  cfg.tie_embeddings = f.boolean("tie_word_embeddings", false);
  cfg.norm_eps = f.number("rms_norm_eps", 1e-6);
  cfg.bos_id = f.token_id("bos_token_id");
  cfg.eos_id = f.token_id("eos_token_id");
  cfg.qkv_bias = cfg.arch == model::Arch::Qwen2 || f.boolean("attention_bias", false);
  cfg.qk_norm = cfg.arch == model::Arch::Qwen3;
  cfg.rope_style = model::RopeStyle::Half;
  cfg.validate(source);
  return cfg;
}

model::ModelConfig read_hf_config(const std::string& path) {
  std::string file = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) file = (fs::path(path) / "config.json").string();
  std::ifstream in(file, std::ios::binary);
  HESSQ_CHECK(in.good(), "{}: cannot open HF config (no such file?)", file);
  std::stringstream text;
  text << in.rdbuf();
  return parse_hf_config(text.str(), file);
}

std::string hf_config_json(const model::ModelConfig& cfg) {
  using model::Arch;
  cfg.validate("hf_config_json");
  HESSQ_CHECK(cfg.rope_style == model::RopeStyle::Half,
              "hf_config_json: HF configs imply rotate-half RoPE; permute the q/k weights of an interleaved model "
              "and set rope_style = Half first");
  HESSQ_CHECK(cfg.qk_norm == (cfg.arch == Arch::Qwen3), "hf_config_json: qk_norm = {} but {} has {}", cfg.qk_norm,
              model::hf_architecture(cfg.arch), cfg.arch == Arch::Qwen3 ? "qk_norm always" : "no qk_norm");
  HESSQ_CHECK(cfg.arch != Arch::Qwen2 || cfg.qkv_bias, "hf_config_json: Qwen2ForCausalLM always has q/k/v bias");

  json rope_scaling = nullptr;
  if (cfg.rope_scaling) {
    const auto& s = *cfg.rope_scaling;
    rope_scaling = {{"rope_type", "llama3"},
                    {"factor", s.factor},
                    {"low_freq_factor", s.low_freq_factor},
                    {"high_freq_factor", s.high_freq_factor},
                    {"original_max_position_embeddings", s.original_max_position}};
  }
  auto token = [](int id) { return id < 0 ? json(nullptr) : json(id); };
  json j = {{"architectures", json::array({model::hf_architecture(cfg.arch)})},
            {"model_type", model::arch_name(cfg.arch)},
            {"torch_dtype", "float32"},
            {"hidden_act", "silu"},
            {"hidden_size", cfg.dim},
            {"intermediate_size", cfg.hidden_dim},
            {"num_hidden_layers", cfg.n_layers},
            {"num_attention_heads", cfg.n_heads},
            {"num_key_value_heads", cfg.n_kv_heads},
            {"head_dim", cfg.head_dim},
            {"vocab_size", cfg.vocab_size},
            {"max_position_embeddings", cfg.max_seq_len},
            {"rope_theta", cfg.rope_theta},
            {"rope_scaling", rope_scaling},
            {"tie_word_embeddings", cfg.tie_embeddings},
            {"rms_norm_eps", cfg.norm_eps},
            {"attention_bias", cfg.qkv_bias},
            {"bos_token_id", token(cfg.bos_id)},
            {"eos_token_id", token(cfg.eos_id)}};
  return j.dump(2) + "\n";  // keys sorted: deterministic
}

}  // namespace hessq::io
