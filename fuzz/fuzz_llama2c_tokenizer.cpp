// llama2.c tokenizer.bin (max token length, then score, length, bytes per token), loaded for a
// 512-token model as `generate` does, then a fixed text encoded and decoded.
#include "fuzz_util.hpp"
#include "hessq/tokenizer/tokenizer.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) { hessq::fuzz::quiet(); return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = hessq::fuzz::write_input(data, size, "tok512.bin");
  hessq::fuzz::expect_clean_error([&] {
    const auto tok = hessq::tokenizer::load_tokenizer_for_model(path, 512);
    (void)tok->decode(tok->encode("Once upon a time, 123 \xC3\xA9t\xC3\xA9!\n", true));
  });
  return 0;
}
