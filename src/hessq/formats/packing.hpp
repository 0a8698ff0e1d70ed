// Containers of Packed (see quant_spec.hpp "Storage"): element codes in 4-bit (two per byte, low
// nibble first, each row starting on a byte) or 8-bit containers, and little-endian scale arrays.
// Internal to formats/.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/formats/quant_spec.hpp"

namespace hessq::formats {

struct CodeLayout {
  int container_bits;  // 4 or 8
  int64_t cols;
  int64_t row_bytes() const { return container_bits == 4 ? (cols + 1) / 2 : cols; }
  uint8_t* row(std::vector<uint8_t>& codes, int64_t r) const { return codes.data() + r * row_bytes(); }
  const uint8_t* row(const std::vector<uint8_t>& codes, int64_t r) const { return codes.data() + r * row_bytes(); }
  // `row` must start zeroed: nibbles are or-ed in.
  void put(uint8_t* row, int64_t c, uint8_t code) const {
    if (container_bits == 8) row[c] = code;
    else row[c >> 1] |= static_cast<uint8_t>((code & 0xF) << ((c & 1) * 4));
  }
  uint8_t get(const uint8_t* row, int64_t c) const {
    return container_bits == 8 ? row[c] : static_cast<uint8_t>((row[c >> 1] >> ((c & 1) * 4)) & 0xF);
  }
};

inline void put_f16(std::vector<uint8_t>& s, int64_t i, float v) {
  const uint16_t h = f32_to_f16(v);
  s[2 * i] = static_cast<uint8_t>(h & 0xFF);
  s[2 * i + 1] = static_cast<uint8_t>(h >> 8);
}
inline float get_f16(const std::vector<uint8_t>& s, int64_t i) {
  return f16_to_f32(static_cast<uint16_t>(s[2 * i] | (s[2 * i + 1] << 8)));
}
inline void put_f32(std::vector<uint8_t>& s, int64_t i, float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  for (int k = 0; k < 4; ++k) s[4 * i + k] = static_cast<uint8_t>(b >> (8 * k));
}
inline float get_f32(const std::vector<uint8_t>& s, int64_t i) {
  uint32_t b = 0;
  for (int k = 0; k < 4; ++k) b |= static_cast<uint32_t>(s[4 * i + k]) << (8 * k);
  float v;
  std::memcpy(&v, &b, 4);
  return v;
}

inline int scale_dtype_bytes(const std::string& dtype) { return dtype == "F32" ? 4 : dtype == "F16" ? 2 : 1; }

// Allocates zeroed storage for [rows, cols] codes and n_scales scales of `dtype`.
inline Packed make_packed(const CodeLayout& L, int64_t rows, int64_t n_scales, const std::string& dtype) {
  Packed p;
  p.codes.assign(static_cast<size_t>(rows * L.row_bytes()), 0);
  p.scales.assign(static_cast<size_t>(n_scales * scale_dtype_bytes(dtype)), 0);
  p.scale_dtype = dtype;
  return p;
}

// Checks that p has the sizes and dtype unpack expects (message names spec and shape).
inline void check_packed(const QuantSpec& spec, const Packed& p, const CodeLayout& L, int64_t rows,
                         int64_t n_scales, const std::string& dtype, int64_t n_zeros) {
  const std::string name = spec.name();
  HESSQ_CHECK(p.scale_dtype == dtype, "unpack {} [{}, {}]: scale dtype {}, expected {}", name, rows, L.cols,
              p.scale_dtype, dtype);
  HESSQ_CHECK(static_cast<int64_t>(p.codes.size()) == rows * L.row_bytes(),
              "unpack {} [{}, {}]: {} code bytes, expected {}", name, rows, L.cols, p.codes.size(), rows * L.row_bytes());
  HESSQ_CHECK(static_cast<int64_t>(p.scales.size()) == n_scales * scale_dtype_bytes(dtype),
              "unpack {} [{}, {}]: {} scale bytes, expected {}", name, rows, L.cols, p.scales.size(),
              n_scales * scale_dtype_bytes(dtype));
  HESSQ_CHECK(static_cast<int64_t>(p.zeros.size()) == n_zeros, "unpack {} [{}, {}]: {} zero points, expected {}",
              name, rows, L.cols, p.zeros.size(), n_zeros);
}

// Matrices smaller than this run on one thread: an OpenMP region costs more than it saves there.
constexpr int64_t kParallelMinElements = int64_t{1} << 15;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace hessq::formats
