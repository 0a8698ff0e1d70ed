// GGUF reader (versions 2 and 3, little-endian): metadata key/values, tensor infos and the data
// section of a memory-mapped file. Layout (ggml docs/gguf.md):
//   "GGUF" u32 version, u64 tensor_count, u64 kv_count,
//   kv_count x (string key, u32 value_type, value),
//   tensor_count x (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset),
//   padding to general.alignment (default 32), data section (tensor offsets are relative to it).
// Strings are u64 length + bytes; arrays are u32 element type + u64 count + elements.
// Every length and count is checked against the bytes left before anything is allocated.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hessq/core/mapped_file.hpp"
#include "hessq/core/tensor.hpp"
#include "hessq/formats/ggml_types.hpp"
#include "hessq/io/stored_tensor.hpp"

namespace hessq::io {

enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
std::string_view gguf_type_name(GgufType type);  // "u32", "str", "arr", ...; "?" if unknown

// ggml tensor types: ids, names and sizes from the one table in formats/ggml_types.hpp.
using formats::GgmlType;
using formats::ggml_block_size;
using formats::ggml_nbytes;
using formats::ggml_type_name;

struct GgufTensorInfo {
  std::string name;
  Shape shape;       // row-major: the reverse of ggml's ne (ne[0] is the contiguous dimension)
  uint32_t type;     // ggml type id
  uint64_t offset;   // absolute byte offset in the file
  uint64_t nbytes;
};

class GgufFile {
 public:
  static GgufFile open(const std::string& path);  // throws hessq::Error naming the file

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }

  // Metadata. Integer getters accept any integer type whose value fits; f32 accepts f32 and f64.
  // The get_* variants throw (naming file, key, expected and found type) when the key is missing
  // or of the wrong type; the find_* variants return nullopt when missing and throw on a wrong type.
  bool has(const std::string& key) const { return kvs_.count(key) != 0; }
  std::vector<std::string> keys() const { return key_order_; }  // in file order
  GgufType type(const std::string& key) const;
  GgufType array_type(const std::string& key) const;  // element type of an array value
  uint64_t array_size(const std::string& key) const;

  std::string get_string(const std::string& key) const;
  uint32_t get_u32(const std::string& key) const;
  int64_t get_i64(const std::string& key) const;
  float get_f32(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::optional<std::string> find_string(const std::string& key) const;
  std::optional<uint32_t> find_u32(const std::string& key) const;
  std::optional<int64_t> find_i64(const std::string& key) const;
  std::optional<float> find_f32(const std::string& key) const;
  std::optional<bool> find_bool(const std::string& key) const;

  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<float> get_f32_array(const std::string& key) const;
  std::vector<int32_t> get_i32_array(const std::string& key) const;

  // A short human-readable rendering of a value ("32000", "llama", "[str x 32000]").
  std::string value_str(const std::string& key) const;

  // Tensors, in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;  // nullptr if absent
  const GgufTensorInfo& tensor(const std::string& name) const;       // throws if absent
  const uint8_t* tensor_data(const std::string& name) const;
  // F32 tensors are returned as views of the mapping; F16/BF16 are converted into a new tensor.
  // Other types throw, naming the tensor and its type.
  Tensor tensor_f32(const std::string& name) const;
  // The tensor as a StoredTensor of the mapping (no copy): F32/F16/BF16 as that dtype, any other
  // type with StoredTensor::ggml_type set (converted on demand by io::ggml_to_f32).
  StoredTensor stored(const std::string& name, const std::string& as_name) const;

 private:
  struct Kv {
    GgufType type;
    GgufType elem_type;       // arrays only
    uint64_t count;           // arrays only
    const uint8_t* data;      // the value (for arrays: the first element)
  };
  friend class GgufParser;
  const Kv& kv(const std::string& key) const;
  int64_t integer(const std::string& key, const Kv& v) const;

  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;  // general.alignment, 32 when absent
  std::map<std::string, Kv> kvs_;
  std::vector<std::string> key_order_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace hessq::io
