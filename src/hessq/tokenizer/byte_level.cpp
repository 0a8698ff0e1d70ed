#include "hessq/tokenizer/byte_level.hpp"

#include <array>

#include "hessq/tokenizer/text_util.hpp"

namespace hessq::tokenizer {

namespace {

std::string utf8(uint32_t cp) {  // cp < 0x800 here
  if (cp < 0x80) return std::string(1, static_cast<char>(cp));
  return {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
}

struct Alphabet {
  std::array<std::string, 256> encode;  // byte -> UTF-8 of its character
  std::array<int, 0x144> decode;        // code point -> byte, -1 if not in the alphabet

  Alphabet() {
    decode.fill(-1);
    uint32_t extra = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t cp = printable ? static_cast<uint32_t>(b) : extra++;
      encode[b] = utf8(cp);
      decode[cp] = b;
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet a;
  return a;
}

}  // namespace

std::string bytes_to_unicode(std::string_view bytes) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += a.encode[static_cast<uint8_t>(c)];
  return out;
}

std::string unicode_to_bytes(std::string_view text) {
  const Alphabet& a = alphabet();
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t n = std::min(utf8_len(text[i]), text.size() - i);
    auto b0 = static_cast<uint8_t>(text[i]);
    uint32_t cp = 0x10000;  // "not in the alphabet" unless decoded below
    if (n == 1) cp = b0;
    else if (n == 2) cp = ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu);
    if (cp < a.decode.size() && a.decode[cp] >= 0) out += static_cast<char>(a.decode[cp]);
    else out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace hessq::tokenizer
