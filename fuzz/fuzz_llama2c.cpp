// llama2.c checkpoint: the 7-int header and the tensor table it implies.
#include "fuzz_util.hpp"
#include "hessq/io/llama2c.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) { hessq::fuzz::quiet(); return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = hessq::fuzz::write_input(data, size, "model.bin");
  hessq::fuzz::expect_clean_error([&] { (void)hessq::io::read_llama2c(path); });
  return 0;
}
