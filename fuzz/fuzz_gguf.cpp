// GGUF: header, metadata (every value rendered), tensor table, F32/F16/BF16 tensors read when small.
#include "fuzz_util.hpp"
#include "hessq/io/gguf.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) { hessq::fuzz::quiet(); return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = hessq::fuzz::write_input(data, size, "model.gguf");
  hessq::fuzz::expect_clean_error([&] {
    const auto file = hessq::io::GgufFile::open(path);
    for (const std::string& key : file.keys()) (void)file.value_str(key);
    for (const auto& t : file.tensors()) {
      (void)file.tensor_data(t.name);
      if (t.nbytes <= (1u << 20)) {
        hessq::fuzz::expect_clean_error([&] { (void)file.tensor_f32(t.name); });  // quantized types throw
      }
    }
  });
  return 0;
}
