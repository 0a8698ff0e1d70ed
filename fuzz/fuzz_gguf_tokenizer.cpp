// The vocabulary of a GGUF file (tokenizer.ggml.*: SentencePiece or byte-level BPE), then a round
// trip of a fixed text through encode and decode.
#include "fuzz_util.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) { hessq::fuzz::quiet(); return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = hessq::fuzz::write_input(data, size, "vocab.gguf");
  hessq::fuzz::expect_clean_error([&] {
    const auto tok = hessq::tokenizer::load_tokenizer(path);
    (void)tok->decode(tok->encode("Once upon a time, 123 \xC3\xA9t\xC3\xA9!\n", true));
  });
  return 0;
}
