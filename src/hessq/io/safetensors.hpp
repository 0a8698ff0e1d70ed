// safetensors checkpoints (HuggingFace): an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<tensor>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// (padded with spaces), then the data section; offsets are relative to the start of the data section.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "hessq/core/mapped_file.hpp"
#include "hessq/core/tensor.hpp"
#include "hessq/io/dtype.hpp"
#include "hessq/io/stored_tensor.hpp"

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
  // The tensor where it lies in the mapping, in its dtype (io/stored_tensor.hpp).
  StoredTensor stored(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::shared_ptr<MappedFile> map_;
  size_t data_start_ = 0;  // file offset of the data section: 8 + N
  std::vector<SafetensorsTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// The safetensors files at `path`: a .safetensors file, a directory holding model.safetensors, or a
// directory holding model.safetensors.index.json (sharded; the index file itself works too; every
// listed shard must exist and hold its tensors, no tensor in two shards).
std::vector<std::shared_ptr<SafetensorsFile>> open_safetensors(const std::string& path);

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

// ---- writing ----

struct TensorDecl {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
};

// A streaming safetensors writer. Every tensor is declared up front, which fixes the header and each
// tensor's place in the file (the layout write_safetensors documents); the tensors' bytes are then
// written with pwrite at those offsets, whole or in slices, in any order, so no tensor has to be in
// memory at once. Output goes to "<path>.tmp" (pre-sized to the final length) and is renamed over
// <path> by commit(), only after every byte of every tensor has been written exactly once; without a
// commit the destructor removes the .tmp. write/write_part may be called from several threads at once.
// Errors (unknown tensor, wrong size, a slice outside the tensor, bytes written twice, bytes never
// written) are hessq::Error naming the file and the tensor.
class SafetensorsWriter {
 public:
  SafetensorsWriter(std::string path, std::vector<TensorDecl> tensors,
                    const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  const std::string& path() const { return path_; }
  // In file order, with offsets within the data section (as SafetensorsFile::tensors() reports them).
  const std::vector<SafetensorsTensorInfo>& tensors() const { return infos_; }
  const SafetensorsTensorInfo& at(const std::string& name) const;  // throws naming file and tensor
  size_t file_size() const { return data_start_ + data_size_; }

  // The whole tensor: nbytes must equal its size.
  void write(const std::string& name, const void* data, size_t nbytes);
  // Bytes [byte_offset, byte_offset + nbytes) of the tensor. Empty slices are no-ops.
  void write_part(const std::string& name, size_t byte_offset, const void* data, size_t nbytes);
  // Checks that every byte was written, fsyncs, renames "<path>.tmp" to <path>.
  void commit();

 private:
  struct Written {
    std::map<size_t, size_t> ranges;  // written [begin, end) byte ranges, disjoint, adjacent ones merged
    size_t written = 0;
  };
  const SafetensorsTensorInfo& info_of(const std::string& name) const;

  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
  size_t data_start_ = 0, data_size_ = 0;
  std::vector<SafetensorsTensorInfo> infos_;       // file order
  std::unordered_map<std::string, size_t> index_;  // name -> position in infos_
  std::vector<Written> progress_;                  // parallel to infos_
  size_t in_flight_ = 0;                           // writes reserved but not yet finished
  std::mutex mutex_;                               // guards progress_, in_flight_ and committed_
};

// Writes atomically (<path>.tmp, then rename), through SafetensorsWriter. The header lists tensors
// sorted by name and is padded with spaces to a multiple of 8 bytes. Data is laid out contiguously
// ordered by (dtype size descending, name), as the safetensors library does: every tensor is naturally
// aligned with no gaps, which that library requires. Identical input gives identical bytes.
void write_safetensors(const std::string& path, std::vector<SafetensorsEntry> entries,
                       const std::map<std::string, std::string>& metadata = {});

// Stores fp32 tensors as `store` (F32, F16 or BF16; rounding to nearest even). F32 is written straight
// from the tensors; F16/BF16 are converted in bounded chunks, never as a whole converted copy.
void write_safetensors_f32(const std::string& path, const TensorMap& tensors, DType store,
                           const std::map<std::string, std::string>& metadata = {});

// Fills `out` with elements [begin, end) (flat, row-major) of the fp32 tensor `name`.
using F32ChunkSource = std::function<void(const std::string& name, size_t begin, size_t end, float* out)>;
inline constexpr size_t kDefaultChunkElems = size_t{1} << 20;

// write_safetensors_f32 for tensors that are produced rather than held: `shapes` declares them (name ->
// shape), and `fill` is asked for each tensor in file order, in chunks of at most `chunk_elems`
// elements starting at multiples of `chunk_elems`, so memory stays O(chunk_elems) whatever the
// tensors' sizes. Given the same values, the bytes are those write_safetensors_f32 writes.
void write_safetensors_f32_streamed(const std::string& path, const std::map<std::string, Shape>& shapes, DType store,
                                    const F32ChunkSource& fill,
                                    const std::map<std::string, std::string>& metadata = {},
                                    size_t chunk_elems = kDefaultChunkElems);

}  // namespace hessq::io
