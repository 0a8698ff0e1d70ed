// safetensors: header (JSON, dtypes, shapes, offsets) and data section; every tensor read in its
// stored dtype and as fp32 when small.
#include "fuzz_util.hpp"
#include "hessq/io/safetensors.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) { hessq::fuzz::quiet(); return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = hessq::fuzz::write_input(data, size, "model.safetensors");
  hessq::fuzz::expect_clean_error([&] {
    const auto file = hessq::io::SafetensorsFile::open(path);
    for (const auto& t : file->tensors()) {
      (void)file->raw(t.name);
      if (t.nbytes() <= (1u << 20)) (void)file->to_f32(t.name);
    }
  });
  return 0;
}
