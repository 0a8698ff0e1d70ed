// GPT-2's byte-level alphabet: every byte maps to a printable Unicode character (printable Latin-1
// bytes to themselves, the other 68 to U+0100..U+0143), so BPE works on bytes while vocabularies
// stay valid UTF-8 ("Ġ" is the space, "Ċ" the newline).
#pragma once
#include <string>
#include <string_view>

namespace hessq::tokenizer {

std::string bytes_to_unicode(std::string_view bytes);  // raw bytes -> byte-level UTF-8 text
// Byte-level text -> raw bytes. Characters outside the alphabet are kept as they are, so added
// tokens that were never byte-level encoded ("<|endoftext|>", "<|im_start|>") decode to themselves.
std::string unicode_to_bytes(std::string_view text);

}  // namespace hessq::tokenizer
