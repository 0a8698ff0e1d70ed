// YAML recipes: parsing, pass names and parameters, formats, and the structural checks.
#include <string>

#include "fuzz_util.hpp"
#include "hessq/pipeline/recipe.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) { hessq::fuzz::quiet(); return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  hessq::fuzz::expect_clean_error([&] {
    const hessq::pipeline::Recipe r = hessq::pipeline::parse_recipe(text, "recipe.yaml");
    hessq::pipeline::validate_recipe(r);
  });
  return 0;
}
