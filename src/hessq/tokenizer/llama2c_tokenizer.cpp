#include "hessq/tokenizer/llama2c_tokenizer.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "hessq/core/error.hpp"
#include "hessq/core/mapped_file.hpp"
#include "hessq/tokenizer/text_util.hpp"

namespace hessq::tokenizer {

std::unique_ptr<Llama2cTokenizer> Llama2cTokenizer::load(const std::string& path, int expected_tokens) {
  auto file = MappedFile::open(path);
  const uint8_t* p = file->data();
  const size_t size = file->size();
  auto read_i32 = [&](size_t at) {
    int32_t v;
    std::memcpy(&v, p + at, 4);
    return v;
  };
  // " of N" after a token index when the model's vocabulary size is known.
  const std::string of = expected_tokens > 0 ? fmt::format(" of {}", expected_tokens) : std::string();
  HESSQ_CHECK(size >= 4, "{}: truncated llama2.c tokenizer: expected at least 4 bytes, found {}", path, size);
  int32_t max_len = read_i32(0);
  HESSQ_CHECK(max_len > 0, "{}: not a llama2.c tokenizer: max_token_length is {}", path, max_len);
  std::vector<std::string> pieces;
  std::vector<float> scores;
  for (size_t pos = 4; pos < size;) {
    size_t id = pieces.size();
    HESSQ_CHECK(size - pos >= 8, "{}: truncated llama2.c tokenizer at token {}{}: expected an 8-byte score and "
                "length at offset {}, found {} bytes", path, id, of, pos, size - pos);
    float score;
    std::memcpy(&score, p + pos, 4);
    int32_t len = read_i32(pos + 4);
    pos += 8;
    HESSQ_CHECK(len >= 0 && len <= max_len, "{}: token {}: length {} outside [0, max_token_length {}]", path,
                id, len, max_len);
    HESSQ_CHECK(static_cast<size_t>(len) <= size - pos, "{}: truncated llama2.c tokenizer at token {}{}: expected "
                "{} bytes at offset {}, found {}", path, id, of, len, pos, size - pos);
    pieces.emplace_back(reinterpret_cast<const char*>(p + pos), len);
    scores.push_back(score);
    pos += len;
  }
  if (expected_tokens > 0) {
    // The file has no token count: cut at an entry boundary it reads as a smaller, well-formed
    // vocabulary, which only the model's vocab_size can tell from a whole one.
    const size_t n = pieces.size();
    HESSQ_CHECK(n >= static_cast<size_t>(expected_tokens),
                "{}: truncated llama2.c tokenizer: the file ends at offset {} after token {} (vocabulary size {}), "
                "but the model's vocab_size is {}: tokens {}..{} are missing (a tokenizer.bin holds exactly one "
                "entry per model token)",
                path, size, static_cast<int64_t>(n) - 1, n, expected_tokens, n, expected_tokens - 1);
    HESSQ_CHECK(n == static_cast<size_t>(expected_tokens),
                "{}: llama2.c tokenizer has vocabulary size {}, more than the model's vocab_size {}: it belongs to "
                "another model (a tokenizer.bin holds exactly one entry per model token)",
                path, n, expected_tokens);
  }
  HESSQ_CHECK(pieces.size() > kEos, "{}: expected at least {} tokens (<unk>, BOS, EOS), found {}", path,
              kEos + 1, pieces.size());
  return std::make_unique<Llama2cTokenizer>(ScoredVocab(std::move(pieces), std::move(scores)));
}

Llama2cTokenizer::Llama2cTokenizer(ScoredVocab vocab) : vocab_(std::move(vocab)) {
  for (int b = 0; b < 256; ++b) byte_ids_[b] = vocab_.find(byte_piece_name(static_cast<uint8_t>(b)));
}

std::vector<int> Llama2cTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  if (add_bos) ids.push_back(kBos);
  if (text.empty()) return ids;
  // The dummy prefix: SentencePiece (add_dummy_prefix) starts the text with a space.
  std::string prefixed = prepend_space(text);
  for (std::string_view s : spm_merge(prefixed, vocab_)) {
    int id = vocab_.find(s);
    if (id >= 0) {
      ids.push_back(id);
      continue;
    }
    // Byte fallback (run.c: byte + 3, which is where "<0xXX>" live); <unk> without byte pieces.
    for (char c : s) ids.push_back(std::max(byte_ids_[static_cast<uint8_t>(c)], 0));
  }
  return ids;
}

std::string Llama2cTokenizer::decode_piece(int prev, int id) const {
  HESSQ_CHECK(id >= 0 && id < vocab_size(), "token id {} out of range [0, {})", id, vocab_size());
  if (id == kBos || id == kEos) return {};
  std::string_view piece = vocab_.pieces[id];
  // SentencePiece strips the dummy-prefix space at the start of the text.
  if ((prev == kBos || prev < 0) && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
  if (auto b = parse_byte_piece(piece)) return std::string(1, static_cast<char>(*b));
  return std::string(piece);
}

// llama2.c pieces use ' ' for U+2581; ids 0-2 are stored as "<unk>", "\n<s>\n", "\n</s>\n" and become
// llama.cpp's "<unk>", "<s>", "</s>"; "<0xXX>" pieces are byte tokens.
GgufVocab Llama2cTokenizer::gguf_vocab() const {
  GgufVocab v;
  v.model = "llama";
  v.scores = vocab_.scores;
  for (int id = 0; id < vocab_size(); ++id) {
    const std::string& piece = vocab_.pieces[id];
    TokenType type = TokenType::kNormal;
    std::string text;
    if (id == 0) {
      type = TokenType::kUnknown, text = "<unk>";
    } else if (id == kBos || id == kEos) {
      type = TokenType::kControl, text = id == kBos ? "<s>" : "</s>";
    } else if (parse_byte_piece(piece)) {
      type = TokenType::kByte, text = piece;
    } else {
      text = replace_all(piece, " ", kSpmSpace);
    }
    v.tokens.push_back(std::move(text));
    v.types.push_back(static_cast<int32_t>(type));
  }
  v.bos_id = kBos, v.eos_id = kEos, v.unk_id = 0;
  v.add_bos = true, v.add_space_prefix = true;
  return v;
}

}  // namespace hessq::tokenizer
