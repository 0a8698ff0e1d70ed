// Small text helpers shared by the tokenizers: UTF-8 lengths, SentencePiece's space symbol and
// byte-fallback pieces, and a string-keyed hash map that can be probed with string_views.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hessq::tokenizer {

constexpr std::string_view kSpmSpace = "\xe2\x96\x81";         // U+2581, SentencePiece's visible space
constexpr std::string_view kSpmUnkSurface = " \xe2\x81\x87 ";  // " ⁇ ", how SentencePiece decodes <unk>

// Byte length of the UTF-8 sequence starting with `lead` (1 for invalid lead bytes).
inline size_t utf8_len(char lead) {
  static constexpr unsigned char kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<unsigned char>(lead) >> 4];
}

std::string prepend_space(std::string_view s);  // " " + s
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);

std::string byte_piece_name(uint8_t b);                           // 0x0A -> "<0x0A>"
std::optional<uint8_t> parse_byte_piece(std::string_view piece);  // "<0x0A>" -> 0x0A, else nullopt

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

}  // namespace hessq::tokenizer
