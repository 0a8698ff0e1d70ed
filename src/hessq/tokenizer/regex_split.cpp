#include "hessq/tokenizer/regex_split.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include "hessq/core/error.hpp"
#include "hessq/tokenizer/text_util.hpp"

namespace hessq::tokenizer {

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kDigitPattern = R"(\p{N})";

struct MatchData {  // per-call scratch: match data and a JIT stack big enough for long whitespace runs
  pcre2_match_data* md = nullptr;
  pcre2_match_context* ctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
  ~MatchData() {
    pcre2_match_data_free(md);
    pcre2_match_context_free(ctx);
    pcre2_jit_stack_free(stack);
  }
};

}  // namespace

namespace {

struct Preset {
  std::vector<std::string_view> names;  // the first is llama.cpp's name (what an exported GGUF says)
  std::vector<std::string> patterns;
};
const std::array<Preset, 4>& presets() {
  static const std::array<Preset, 4> kPresets = {{
      {{"gpt2", "gpt-2", "mpt", "olmo", "jais"}, {kGpt2Pattern}},
      {{"llama-bpe", "llama3", "smaug-bpe"}, {kLlama3Pattern}},
      {{"qwen2", "deepseek-r1-qwen"}, {kQwen2Pattern}},
      {{"smollm", "starcoder", "refact", "codeshell"}, {kDigitPattern, kGpt2Pattern}},
  }};
  return kPresets;
}

}  // namespace

std::vector<std::string> pretokenizer_patterns(std::string_view name) {
  for (const Preset& p : presets())
    for (std::string_view n : p.names)
      if (n == name) return p.patterns;
  HESSQ_FAIL("unknown pre-tokenizer '{}' (known: gpt2, llama3, qwen2, smollm and their GGUF names)", name);
}

std::string pretokenizer_gguf_name(const std::vector<std::string>& patterns) {
  for (const Preset& p : presets())
    if (p.patterns == patterns) return std::string(p.names.front());
  return "";
}

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {
  for (const std::string& p : patterns_) {
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    auto c = std::make_unique<Compiled>();
    // UCP: \s, \d, \w and POSIX classes use Unicode properties; MATCH_INVALID_UTF: invalid UTF-8
    // never matches (it ends up in the gaps) instead of failing the match.
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_offset, nullptr);
    if (!c->code) {
      std::array<PCRE2_UCHAR, 256> msg{};
      pcre2_get_error_message(err, msg.data(), msg.size());
      HESSQ_FAIL("pre-tokenizer regex '{}': {} at offset {}", p, reinterpret_cast<const char*>(msg.data()),
                 err_offset);
    }
    pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
    compiled_.push_back(std::move(c));
  }
}

RegexSplitter::~RegexSplitter() = default;
RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;

std::vector<std::string_view> RegexSplitter::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (!text.empty()) pieces.push_back(text);
  MatchData m;
  m.ctx = pcre2_match_context_create(nullptr);
  m.stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  pcre2_jit_stack_assign(m.ctx, nullptr, m.stack);
  for (const auto& c : compiled_) {
    pcre2_match_data_free(m.md);
    m.md = pcre2_match_data_create_from_pattern(c->code, nullptr);
    std::vector<std::string_view> next;
    for (std::string_view piece : pieces) {
      auto subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t pos = 0;
      while (pos < piece.size()) {
        int rc = pcre2_match(c->code, subject, piece.size(), pos, 0, m.md, m.ctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        HESSQ_CHECK(rc >= 0, "pre-tokenizer regex failed with PCRE2 error {}", rc);
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.md);
        size_t begin = ov[0], end = ov[1];
        if (begin >= piece.size()) break;
        if (end == begin) end = begin + std::min(utf8_len(piece[begin]), piece.size() - begin);  // empty match
        if (begin > pos) next.push_back(piece.substr(pos, begin - pos));
        next.push_back(piece.substr(begin, end - begin));
        pos = end;
      }
      if (pos < piece.size()) next.push_back(piece.substr(pos));
    }
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace hessq::tokenizer
