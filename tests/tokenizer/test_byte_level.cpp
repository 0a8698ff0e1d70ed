#include "hessq/tokenizer/byte_level.hpp"

#include <gtest/gtest.h>

namespace hessq::tokenizer {
namespace {

TEST(ByteLevel, AllBytesRoundTrip) {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
  std::string text = bytes_to_unicode(bytes);
  EXPECT_EQ(unicode_to_bytes(text), bytes);
  EXPECT_EQ(bytes_to_unicode(" \n!"), "\xc4\xa0\xc4\x8a!");  // "ĠĊ!"
  EXPECT_EQ(unicode_to_bytes("<|endoftext|>"), "<|endoftext|>");
}

}  // namespace
}  // namespace hessq::tokenizer
