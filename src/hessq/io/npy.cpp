#include "hessq/io/npy.hpp"

#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"

namespace hessq::io {

static constexpr char kMagic[] = "\x93NUMPY";
static constexpr size_t kMagicLen = 6;
static constexpr size_t kAlign = 64;  // numpy pads the header so data starts on a 64-byte boundary

static int64_t count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    HESSQ_CHECK(d >= 0, "npy: negative dimension {} in shape", d);
    n *= d;
  }
  return n;
}

// The header for `shape` and element type `descr`, then n * elem_size bytes of `data`.
static std::string npy_bytes_of(const void* data, size_t elem_size, const char* descr, const std::vector<int64_t>& shape) {
  std::string dims;  // "3," for 1-D (a Python 1-tuple), "3, 4" otherwise
  for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ",";
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims);
  const size_t unpadded = kMagicLen + 2 + 2 + dict.size() + 1;  // magic, version, header len, dict, '\n'
  dict.append((kAlign - unpadded % kAlign) % kAlign, ' ');
  dict.push_back('\n');
  HESSQ_CHECK(dict.size() <= 0xffff, "npy: header of {} bytes does not fit format 1.0", dict.size());
  const int64_t n = count(shape);
  std::string out(kMagic, kMagicLen);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  out += dict;
  out.append(static_cast<const char*>(data), static_cast<size_t>(n) * elem_size);  // little-endian host
  return out;
}

std::string npy_bytes(const float* data, const std::vector<int64_t>& shape) {
  return npy_bytes_of(data, sizeof(float), "<f4", shape);
}

std::string npy_bytes(const int32_t* data, const std::vector<int64_t>& shape) {
  return npy_bytes_of(data, sizeof(int32_t), "<i4", shape);
}

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  write_file_atomic(path, npy_bytes(data, shape));
}

void write_npy(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape) {
  write_file_atomic(path, npy_bytes(data, shape));
}

// The value of `key` in the header dict, up to the next ',' at depth 0 (or the closing brace).
static std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  const size_t k = header.find("'" + key + "'");
  HESSQ_CHECK(k != std::string::npos, "{}: npy header has no '{}': {}", path, key, header);
  size_t p = header.find(':', k);
  HESSQ_CHECK(p != std::string::npos, "{}: malformed npy header: {}", path, header);
  ++p;
  int depth = 0;
  size_t e = p;
  for (; e < header.size(); ++e) {
    const char c = header[e];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if ((c == ',' || c == '}') && depth == 0) break;
  }
  std::string v = header.substr(p, e - p);
  const auto b = v.find_first_not_of(' '), l = v.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : v.substr(b, l - b + 1);
}

NpyArray read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HESSQ_CHECK(f.good(), "{}: cannot open npy file", path);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  HESSQ_CHECK(bytes.size() >= kMagicLen + 4 && std::memcmp(bytes.data(), kMagic, kMagicLen) == 0,
              "{}: not a .npy file (bad magic)", path);
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    offset = 10;
  } else {
    HESSQ_CHECK(major == 2 || major == 3, "{}: unsupported npy version {}", path, major);
    HESSQ_CHECK(bytes.size() >= 12, "{}: truncated npy header", path);
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  }
  HESSQ_CHECK(bytes.size() >= offset + header_len, "{}: truncated npy header ({} bytes, header says {})", path,
              bytes.size(), offset + header_len);
  const std::string header = bytes.substr(offset, header_len);
  const std::string descr = dict_value(header, "descr", path);
  HESSQ_CHECK(descr == "'<f4'" || descr == "'float32'", "{}: dtype {} is not supported (expected '<f4')", path, descr);
  HESSQ_CHECK(dict_value(header, "fortran_order", path) == "False", "{}: Fortran-order arrays are not supported", path);
  std::string dims = dict_value(header, "shape", path);
  HESSQ_CHECK(dims.size() >= 2 && dims.front() == '(' && dims.back() == ')', "{}: malformed shape {}", path, dims);
  NpyArray a;
  std::string cur;
  for (char c : dims.substr(1, dims.size() - 2) + ",") {
    if (c == ',') {
      if (cur.find_first_not_of(' ') != std::string::npos) a.shape.push_back(std::stoll(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  const int64_t n = count(a.shape);
  const size_t data_bytes = bytes.size() - offset - header_len;
  HESSQ_CHECK(data_bytes == static_cast<size_t>(n) * sizeof(float), "{}: {} data bytes, shape {} needs {}", path,
              data_bytes, dims, n * 4);
  a.data.resize(n);
  if (data_bytes > 0) std::memcpy(a.data.data(), bytes.data() + offset + header_len, data_bytes);  // n = 0: no buffer
  return a;
}

}  // namespace hessq::io
