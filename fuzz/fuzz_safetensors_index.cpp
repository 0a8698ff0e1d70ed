// A sharded safetensors checkpoint: the fuzzed model.safetensors.index.json beside one valid shard
// (model-00001-of-00001.safetensors holding "a", a 2x2 F32 tensor) that the index may or may not name.
#include <cstring>

#include "fuzz_util.hpp"
#include "hessq/io/safetensors.hpp"

namespace {
void write_shard() {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += header;
  bytes += std::string(16, '\0');
  hessq::fuzz::write_input(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                           "model-00001-of-00001.safetensors");
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hessq::fuzz::quiet();
  write_shard();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hessq::fuzz::write_input(data, size, "model.safetensors.index.json");
  hessq::fuzz::expect_clean_error([&] {
    for (const auto& file : hessq::io::open_safetensors(hessq::fuzz::work_dir().string()))
      for (const auto& t : file->tensors()) (void)file->to_f32(t.name);
  });
  return 0;
}
