#include "hessq/io/stored_tensor.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/io/ggml_dequant.hpp"
#include "hessq/io/gguf.hpp"

namespace hessq::io {

namespace {

template <class T, class Convert>
void convert(const uint8_t* src, float* dst, size_t n, Convert f) {
#pragma omp parallel for if (n > (1u << 16))
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));  // src may be unaligned
    dst[i] = f(v);
  }
}

void check_values(const float* p, size_t n, const StoredTensor& t, int64_t first_flat) {
  for (size_t i = 0; i < n; ++i)
    HESSQ_CHECK(std::isfinite(p[i]), "{}: tensor {} has a non-finite value ({}) at flat index {}", t.file, t.name,
                p[i], first_flat + static_cast<int64_t>(i));
}

// Elements [first, first + n) of `t` into dst.
void convert_range(const StoredTensor& t, int64_t first, size_t n, float* dst) {
  if (t.ggml_type) return ggml_to_f32(*t.ggml_type, t.data, t.nbytes, first, static_cast<int64_t>(n), dst, t.file, t.name);
  const size_t es = dtype_size(t.dtype);
  const uint8_t* src = t.data + static_cast<size_t>(first) * es;
  switch (t.dtype) {
    case DType::F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::F16: convert<uint16_t>(src, dst, n, f16_to_f32); return;
    case DType::BF16: convert<uint16_t>(src, dst, n, bf16_to_f32); return;
    case DType::F64: convert<double>(src, dst, n, [](double v) { return static_cast<float>(v); }); return;
    default:
      HESSQ_FAIL("{}: tensor '{}' has dtype {}; only F32, F16, BF16 and F64 convert to fp32", t.file, t.name,
                 dtype_name(t.dtype));
  }
}

StoredTensor from_view(const std::string& name, const Tensor& t, const std::string& file, bool mapped) {
  StoredTensor s;
  s.name = name;
  s.shape = t.shape;
  s.dtype = DType::F32;
  s.data = reinterpret_cast<const uint8_t*>(t.ptr());
  s.nbytes = static_cast<size_t>(t.numel()) * sizeof(float);
  s.owner = t.data;
  s.file = file;
  s.mapped = mapped;
  return s;
}

}  // namespace

int64_t StoredTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string StoredTensor::type_name() const { return ggml_type ? ggml_type_name(*ggml_type) : dtype_name(dtype); }

Tensor StoredTensor::to_f32(bool check_finite) const {
  Tensor out;
  if (!ggml_type && dtype == DType::F32 && reinterpret_cast<uintptr_t>(data) % alignof(float) == 0) {
    out = Tensor::view(shape, reinterpret_cast<float*>(const_cast<uint8_t*>(data)), owner);
  } else {
    out = Tensor::zeros(shape);
    convert_range(*this, 0, static_cast<size_t>(numel()), out.ptr());
  }
  if (check_finite) check_values(out.ptr(), static_cast<size_t>(out.numel()), *this, 0);
  return out;
}

void StoredTensor::rows_f32(int64_t row, int64_t count, float* out, bool check_finite) const {
  HESSQ_CHECK(row >= 0 && count >= 0 && row + count <= rows(), "{}: rows [{}, {}) of tensor {} with {} rows", file,
              row, row + count, name, rows());
  const size_t n = static_cast<size_t>(count * cols());
  convert_range(*this, row * cols(), n, out);
  if (check_finite) check_values(out, n, *this, row * cols());
}

void StoredTensor::release() const {
  if (!mapped || nbytes == 0) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + nbytes) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

StoredTensor stored_f32(const std::string& name, const Tensor& t, const std::string& where) {
  return from_view(name, t, where, false);
}

StoredTensor stored_view(const std::string& name, const Tensor& t, const std::string& file) {
  return from_view(name, t, file, true);
}

}  // namespace hessq::io
