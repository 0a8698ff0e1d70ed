// NumPy .npy files (format version 1.0): a float32 and an int32 C-order writer, so any other tool can
// load the matrices and token ids hessq works on (`numpy.load`), and a float32 reader (tests,
// --from-dump).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hessq::io {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // C order (row-major)
};

// Writes `data` (prod(shape) floats, C order) as '<f4' atomically. Throws on a negative dimension or
// a missing parent directory.
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);
// The same as '<i4' (token ids).
void write_npy(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape);

// The .npy bytes of the same arrays (header + data), for writers that assemble several files.
std::string npy_bytes(const float* data, const std::vector<int64_t>& shape);
std::string npy_bytes(const int32_t* data, const std::vector<int64_t>& shape);

// Reads a '<f4' C-order .npy file. Throws naming the file on a bad magic, an unsupported dtype or
// order, or a size that does not match the header.
NpyArray read_npy(const std::string& path);

}  // namespace hessq::io
