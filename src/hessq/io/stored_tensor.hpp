// StoredTensor: one tensor as a checkpoint stores it (a region of a memory-mapped file in its dtype,
// F32 / F16 / BF16 / F64 or a GGUF block type such as Q4_1, or an in-memory fp32 tensor), converted to fp32 only when asked: whole
// (to_f32) or a few rows (rows_f32, e.g. the embedding rows of the calibration tokens). release()
// drops its pages from this process's resident memory once it has been converted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "hessq/core/tensor.hpp"
#include "hessq/io/dtype.hpp"

namespace hessq::io {

struct StoredTensor {
  std::string name;
  Shape shape;
  DType dtype = DType::F32;
  const uint8_t* data = nullptr;  // little-endian elements, possibly unaligned
  size_t nbytes = 0;
  std::shared_ptr<void> owner;    // keeps `data` alive (the mapping, or the in-memory tensor)
  std::string file;               // where it is stored, for messages
  bool mapped = false;            // `data` lies in a file mapping (release() may drop its pages)
  // Set for GGUF block-quantized data (a ggml type id, converted by io::ggml_to_f32; `dtype` is then
  // unused). Rows are whole blocks (the GGUF reader checks row lengths), so any row range converts.
  std::optional<uint32_t> ggml_type;

  int64_t numel() const;
  int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  int64_t cols() const { return shape.empty() ? 1 : numel() / shape[0]; }
  std::string type_name() const;  // "BF16", "Q4_1", ...
  // fp32 values: a zero-copy view for aligned F32 data, else a converted copy. Throws naming the file
  // and tensor on an unsupported dtype or (when `check_finite`) a NaN/Inf.
  Tensor to_f32(bool check_finite = true) const;
  // Rows [row, row + count) of the tensor viewed as [rows, cols], converted into `out` (count * cols).
  void rows_f32(int64_t row, int64_t count, float* out, bool check_finite = true) const;
  // Drops the tensor's whole pages from this process's resident memory (madvise DONTNEED on a
  // file mapping; a no-op for in-memory tensors). Values read later are read from the file again.
  void release() const;
};

// An in-memory fp32 tensor as a StoredTensor (no copy).
StoredTensor stored_f32(const std::string& name, const Tensor& t, const std::string& where);
// An fp32 view of a file mapping (e.g. a llama2.c checkpoint) as a StoredTensor (no copy; release()
// drops its pages).
StoredTensor stored_view(const std::string& name, const Tensor& t, const std::string& file);

}  // namespace hessq::io
