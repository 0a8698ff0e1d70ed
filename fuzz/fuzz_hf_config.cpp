// HF config.json: architecture, hyper-parameters, RoPE scaling, the checks that the shapes fit.
#include <string>

#include "fuzz_util.hpp"
#include "hessq/io/hf_config.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) { hessq::fuzz::quiet(); return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  hessq::fuzz::expect_clean_error([&] { (void)hessq::io::parse_hf_config(text, "config.json"); });
  return 0;
}
