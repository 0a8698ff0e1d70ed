// Reading an exported HF directory back in the tests: tensors by name (raw little-endian bytes,
// shape and dtype) and config.json.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hessq/io/safetensors.hpp"

namespace hessq::test {

struct ExportedTensor {
  io::DType dtype;
  Shape shape;
  std::vector<uint8_t> bytes;
  template <class T>
  T at(int64_t i) const {
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    return v;
  }
};

inline std::map<std::string, ExportedTensor> read_exported(const std::string& dir) {
  std::map<std::string, ExportedTensor> out;
  for (const auto& f : io::open_safetensors(dir)) {
    EXPECT_EQ(f->metadata().at("format"), "pt");
    for (const auto& info : f->tensors()) {
      const auto raw = f->raw(info.name);
      out[info.name] = {info.dtype, info.shape, std::vector<uint8_t>(raw.begin(), raw.end())};
    }
  }
  return out;
}

inline nlohmann::json read_json_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return nlohmann::json::parse(s.str());
}

// Row r of a [heads * d, ...] q/k tensor in HF's half layout is this row of the interleaved one:
// half row p * d/2 + i (p in {0, 1}) holds the pair element p of rotation pair i, interleaved row 2i + p.
inline int64_t interleaved_row_of_half(int64_t r, int64_t d) {
  const int64_t h = r / d, k = r % d, p = k / (d / 2), i = k % (d / 2);
  return h * d + 2 * i + p;
}

}  // namespace hessq::test
