// HF tokenizer.json (model, vocab, merges, pre-tokenizer, added tokens), then a fixed text encoded
// and decoded.
#include "fuzz_util.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) { hessq::fuzz::quiet(); return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = hessq::fuzz::write_input(data, size, "tokenizer.json");
  hessq::fuzz::expect_clean_error([&] {
    const auto tok = hessq::tokenizer::load_tokenizer(path);
    (void)tok->decode(tok->encode("Once upon a time, 123 \xC3\xA9t\xC3\xA9!\n<|endoftext|>", true));
  });
  return 0;
}
