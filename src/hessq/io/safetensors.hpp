// safetensors checkpoints (HuggingFace): an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<tensor>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// (padded with spaces), then the data section; offsets are relative to the start of the data section.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "hessq/core/mapped_file.hpp"
#include "hessq/core/tensor.hpp"
#include "hessq/io/dtype.hpp"

namespace hessq::io {

struct SafetensorsTensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  size_t begin = 0, end = 0;  // byte offsets within the data section
  size_t nbytes() const { return end - begin; }
};

// A memory-mapped safetensors file whose header has been fully validated: every dtype known, every
// byte range inside the data section and of size numel * dtype size, no two tensors overlapping.
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);  // throws hessq::Error

  const std::string& path() const { return map_->path(); }
  // In file order: by data offset (ties by name).
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }
  const SafetensorsTensorInfo* find(const std::string& name) const;  // nullptr if absent
  const SafetensorsTensorInfo& at(const std::string& name) const;    // throws naming file and tensor
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // "__metadata__"

  // The tensor's bytes inside the mapping (little-endian, as stored).
  std::span<const uint8_t> raw(const std::string& name) const;
  // F32: a zero-copy view of the mapping when 4-byte aligned (else a copy); F16, BF16, F64: converted.
  // Other dtypes throw, naming the file, tensor and dtype. The tensor keeps the mapping alive.
  Tensor to_f32(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::shared_ptr<MappedFile> map_;
  size_t data_start_ = 0;  // file offset of the data section: 8 + N
  std::vector<SafetensorsTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// Reads every tensor as fp32. `path` is a .safetensors file, a directory holding model.safetensors,
// or a directory holding model.safetensors.index.json (sharded; the index file itself works too).
TensorMap read_safetensors(const std::string& path);

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  const void* data = nullptr;  // nbytes bytes, little-endian
  size_t nbytes = 0;           // must equal numel(shape) * dtype_size(dtype)
};

// Writes atomically (<path>.tmp, then rename). The header lists tensors sorted by name and is padded
// with spaces to a multiple of 8 bytes. Data is laid out contiguously ordered by (dtype size
// descending, name), as the safetensors library does: every tensor is naturally aligned with no gaps,
// which that library requires. Identical input gives identical bytes.
void write_safetensors(const std::string& path, std::vector<SafetensorsEntry> entries,
                       const std::map<std::string, std::string>& metadata = {});

// Stores fp32 tensors as `store` (F32, F16 or BF16; rounding to nearest even).
void write_safetensors_f32(const std::string& path, const TensorMap& tensors, DType store,
                           const std::map<std::string, std::string>& metadata = {});

}  // namespace hessq::io
