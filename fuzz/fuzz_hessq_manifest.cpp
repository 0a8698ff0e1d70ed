// .hessq manifests: the fuzzed hessq.json in a directory with no tensor files, read as a manifest
// and as a model configuration, then loaded (which must fail cleanly on the missing or mismatching
// files it names).
#include "fuzz_util.hpp"
#include "hessq/io/hessq_format.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) { hessq::fuzz::quiet(); return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hessq::fuzz::write_input(data, size, "hessq.json");
  const std::string dir = hessq::fuzz::work_dir().string();
  hessq::fuzz::expect_clean_error([&] {
    const auto manifest = hessq::io::read_hessq_manifest(dir);
    if (manifest.contains("config")) (void)hessq::io::model_config_from_json(manifest["config"], "hessq.json");
    (void)hessq::io::read_hessq_checkpoint(dir);
  });
  return 0;
}
