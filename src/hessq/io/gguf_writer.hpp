// GGUF writer (version 3, little-endian; the layout io/gguf.hpp reads): metadata key/values in the
// order they were added, then the tensor infos, then the data section, every tensor's data starting
// at a multiple of general.alignment (32) from the data section's start. Tensor data is produced one
// tensor at a time when the file is written (a callback), so a model never has to be held whole.
// The file appears under its final name only when complete (core/atomic_file.hpp).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hessq/core/tensor.hpp"
#include "hessq/io/gguf.hpp"

namespace hessq::io {

class GgufWriter {
 public:
  static constexpr uint64_t kAlignment = 32;

  // Metadata. Keys must be unique (a repeated key throws, naming it).
  void add_string(const std::string& key, const std::string& value);
  void add_u32(const std::string& key, uint32_t value);
  void add_i32(const std::string& key, int32_t value);
  void add_f32(const std::string& key, float value);
  void add_bool(const std::string& key, bool value);
  void add_string_array(const std::string& key, const std::vector<std::string>& values);
  void add_f32_array(const std::string& key, const std::vector<float>& values);
  void add_i32_array(const std::string& key, const std::vector<int32_t>& values);
  // Copies key `key` of `src` (any type, arrays included) unchanged.
  void copy_kv(const GgufFile& src, const std::string& key);

  // A tensor of ggml type `type` and row-major `shape` (written reversed as ggml's ne). `fill` writes
  // exactly ggml_nbytes(type, numel) bytes into the buffer it is given, when the file is written.
  using Fill = std::function<void(uint8_t* dst)>;
  void add_tensor(const std::string& name, const Shape& shape, uint32_t type, Fill fill);

  // Writes everything to `path` atomically. Throws naming the path and tensor on any failure (a
  // fill that throws leaves no file).
  void write(const std::string& path) const;

 private:
  void add_kv(const std::string& key, GgufType type, std::string encoded_value);
  struct TensorEntry {
    std::string name;
    Shape shape;
    uint32_t type;
    uint64_t nbytes;
    Fill fill;
  };
  std::vector<std::string> keys_;
  std::string kv_bytes_;  // the encoded key/value pairs, in order
  std::vector<TensorEntry> tensors_;
};

}  // namespace hessq::io
