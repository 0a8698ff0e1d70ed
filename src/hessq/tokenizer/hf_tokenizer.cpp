#include "hessq/tokenizer/hf_tokenizer.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "hessq/core/error.hpp"

namespace hessq::tokenizer {

namespace {

using nlohmann::json;
constexpr int64_t kMaxTokenId = 1 << 26;  // sanity bound before sizing the token table

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HESSQ_CHECK(in.good(), "{}: cannot open", path);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    HESSQ_FAIL("{}: invalid JSON: {}", path, e.what());
  }
}

std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) out += '\\';
    out += c;
  }
  return out;
}

struct PreTokenizerSpec {
  std::vector<std::string> patterns;
  bool byte_level = false;
  bool add_prefix_space = false;
};

void read_pretokenizer(const json& pt, const std::string& path, PreTokenizerSpec& spec) {
  if (pt.is_null()) return;
  const std::string type = pt.value("type", "");
  if (type == "Sequence") {
    for (const json& p : pt.at("pretokenizers")) read_pretokenizer(p, path, spec);
  } else if (type == "ByteLevel") {
    spec.byte_level = true;
    spec.add_prefix_space = pt.value("add_prefix_space", false);
    if (pt.value("use_regex", true)) spec.patterns.push_back(kGpt2Pattern);
  } else if (type == "Split") {
    const json& pat = pt.at("pattern");
    std::string behavior = pt.value("behavior", "");
    HESSQ_CHECK(behavior == "Isolated" && !pt.value("invert", false),
                "{}: unsupported Split pre_tokenizer: expected behavior Isolated without invert, found {}{}", path,
                behavior, pt.value("invert", false) ? " with invert" : "");
    if (pat.contains("Regex")) spec.patterns.push_back(pat.at("Regex").get<std::string>());
    else spec.patterns.push_back(regex_escape(pat.at("String").get<std::string>()));
  } else if (type == "Digits") {
    spec.patterns.push_back(pt.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
  } else {
    HESSQ_FAIL("{}: unsupported pre_tokenizer type '{}' (expected ByteLevel, Split, Digits or Sequence)", path,
               type);
  }
}

// Whether a pre_tokenizer or decoder (possibly a Sequence) contains a ByteLevel step.
bool has_byte_level(const json& x) {
  if (!x.is_object()) return false;
  if (x.value("type", "") == "ByteLevel") return true;
  for (const char* key : {"pretokenizers", "decoders"})
    if (x.contains(key))
      for (const json& y : x.at(key))
        if (has_byte_level(y)) return true;
  return false;
}

std::pair<std::string, std::string> parse_merge(const json& m, const std::string& path) {
  if (m.is_array() && m.size() == 2) return {m[0].get<std::string>(), m[1].get<std::string>()};
  if (m.is_string()) {
    const auto& s = m.get_ref<const std::string&>();
    size_t sp = s.find(' ');
    if (sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos)
      return {s.substr(0, sp), s.substr(sp + 1)};
  }
  HESSQ_FAIL("{}: bad merge {}: expected \"a b\" or [\"a\", \"b\"]", path, m.dump());
}

// "bos_token": "<s>" | {"content": "<s>", ...} | null
std::string special_content(const json& cfg, const char* key) {
  if (!cfg.contains(key) || cfg.at(key).is_null()) return {};
  const json& v = cfg.at(key);
  return v.is_string() ? v.get<std::string>() : v.value("content", "");
}

BpeConfig read_config(const json& j, const std::string& path) {
  HESSQ_CHECK(j.is_object() && j.contains("model"), "{}: expected a tokenizer.json object with a \"model\"", path);
  const json& model = j.at("model");
  std::string type = model.value("type", "BPE");
  HESSQ_CHECK(type == "BPE", "{}: unsupported model.type: expected BPE, found {}", path, type);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    HESSQ_CHECK(!model.contains(key) || model.at(key).is_null() || model.at(key) == "",
                "{}: unsupported BPE option model.{} = {}", path, key, model.at(key).dump());
  const json normalizer = j.value("normalizer", json());
  HESSQ_CHECK(normalizer.is_null() || normalizer.value("type", "") == "NFC",
              "{}: unsupported normalizer {} (expected null or NFC)", path, normalizer.value("type", "?"));

  PreTokenizerSpec pre;
  read_pretokenizer(j.value("pre_tokenizer", json()), path, pre);
  HESSQ_CHECK(pre.byte_level || has_byte_level(j.value("decoder", json())),
              "{}: not a byte-level BPE tokenizer (no ByteLevel pre_tokenizer or decoder)", path);

  BpeConfig c;
  c.pre = pretokenizer_gguf_name(pre.patterns);
  c.patterns = std::move(pre.patterns);
  c.add_prefix_space = pre.add_prefix_space;
  c.ignore_merges = model.value("ignore_merges", false);
  auto set_token = [&](int64_t id, const std::string& text) {
    HESSQ_CHECK(id >= 0 && id < kMaxTokenId, "{}: token '{}' has id {}, expected [0, {})", path, text, id,
                kMaxTokenId);
    if (static_cast<size_t>(id) >= c.tokens.size()) c.tokens.resize(id + 1);
    c.tokens[id] = text;
  };
  // An id must be a JSON integer: converting a float such as 6e64 to int64 is undefined behaviour.
  auto id_of = [&](const json& v, const std::string& text) -> int64_t {
    HESSQ_CHECK(v.is_number_integer(), "{}: token '{}' has id {}, expected an integer", path, text, v.dump());
    return v.get<int64_t>();
  };
  for (const auto& [text, id] : model.at("vocab").items()) set_token(id_of(id, text), text);
  for (const json& m : model.value("merges", json::array())) c.merges.push_back(parse_merge(m, path));
  for (const json& t : j.value("added_tokens", json::array())) {
    std::string content = t.at("content").get<std::string>();
    int64_t id = id_of(t.at("id"), content);
    set_token(id, content);
    c.added.push_back({content, static_cast<int>(id), t.value("special", false)});
  }
  auto find_id = [&](const std::string& text) {
    for (const SpecialToken& t : c.added)
      if (t.text == text) return t.id;
    for (size_t id = 0; id < c.tokens.size(); ++id)
      if (c.tokens[id] == text) return static_cast<int>(id);
    return -1;
  };
  if (model.contains("unk_token") && model.at("unk_token").is_string())
    c.unk_id = find_id(model.at("unk_token").get<std::string>());

  auto cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(cfg_path)) {
    json cfg = read_json(cfg_path.string());
    for (auto [key, out] : {std::pair{"bos_token", &c.bos_id}, std::pair{"eos_token", &c.eos_id}}) {
      std::string content = special_content(cfg, key);
      if (content.empty()) continue;
      *out = find_id(content);
      if (*out < 0) spdlog::warn("{}: {} '{}' is not a token", cfg_path.string(), key, content);
    }
  }
  return c;
}

}  // namespace

std::unique_ptr<BpeTokenizer> load_hf_tokenizer(const std::string& json_path) {
  json j = read_json(json_path);
  BpeConfig c;
  try {
    c = read_config(j, json_path);
  } catch (const json::exception& e) {  // a field of the wrong type or missing
    HESSQ_FAIL("{}: malformed tokenizer.json: {}", json_path, e.what());
  }
  return with_context(json_path, [&] { return std::make_unique<BpeTokenizer>(std::move(c)); });
}

bool is_byte_level_bpe(const std::string& json_path) {
  json j = read_json(json_path);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object() ||
      j["model"].value("type", "BPE") != "BPE")
    return false;
  return has_byte_level(j.value("pre_tokenizer", json())) || has_byte_level(j.value("decoder", json()));
}

}  // namespace hessq::tokenizer
