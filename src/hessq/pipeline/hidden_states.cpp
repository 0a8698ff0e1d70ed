#include "hessq/pipeline/hidden_states.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"

namespace hessq::pipeline {

int64_t HiddenStates::bytes_for(int64_t windows, int64_t window, int64_t dim, io::DType dtype) {
  return windows * window * dim * static_cast<int64_t>(io::dtype_size(dtype));
}

HiddenStates::HiddenStates(int64_t windows, int64_t window, int64_t dim, io::DType dtype, const std::string& spill_file)
    : windows_(windows), window_(window), dim_(dim), dtype_(dtype), path_(spill_file) {
  HESSQ_CHECK(dtype == io::DType::F32 || dtype == io::DType::F16 || dtype == io::DType::BF16,
              "hidden states are stored as F32, F16 or BF16, not {}", io::dtype_name(dtype));
  HESSQ_CHECK(windows > 0 && window > 0 && dim > 0, "hidden states: empty shape [{}, {}, {}]", windows, window, dim);
  const size_t n = static_cast<size_t>(bytes());
  if (path_.empty()) {
    mem_.assign(n, 0);
    data_ = mem_.data();
    return;
  }
  const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  HESSQ_CHECK(fd >= 0, "{}: cannot create the hidden-state spill file: {}", path_, std::strerror(errno));
  if (::ftruncate(fd, static_cast<off_t>(n)) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path_.c_str());
    HESSQ_FAIL("{}: cannot size the spill file to {} bytes: {}", path_, n, std::strerror(err));
  }
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    ::unlink(path_.c_str());
    HESSQ_FAIL("{}: cannot map the spill file ({} bytes): {}", path_, n, std::strerror(err));
  }
  data_ = static_cast<uint8_t*>(p);
  mapped_bytes_ = n;
}

HiddenStates::HiddenStates(HiddenStates&& o) noexcept
    : windows_(o.windows_), window_(o.window_), dim_(o.dim_), dtype_(o.dtype_), path_(std::move(o.path_)),
      mem_(std::move(o.mem_)), data_(o.data_), mapped_bytes_(o.mapped_bytes_) {
  o.path_.clear();
  o.data_ = nullptr;
  o.mapped_bytes_ = 0;
}

HiddenStates::~HiddenStates() {
  if (mapped_bytes_ > 0) ::munmap(data_, mapped_bytes_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

int64_t HiddenStates::bytes() const { return bytes_for(windows_, window_, dim_, dtype_); }

void HiddenStates::read(int64_t w, float* out) const {
  HESSQ_CHECK(w >= 0 && w < windows_, "hidden states: window {} out of range [0, {})", w, windows_);
  const size_t n = static_cast<size_t>(window_ * dim_);
  const uint8_t* src = data_ + static_cast<size_t>(w) * n * io::dtype_size(dtype_);
  if (dtype_ == io::DType::F32) {
    std::memcpy(out, src, n * sizeof(float));
    return;
  }
  const uint16_t* h = reinterpret_cast<const uint16_t*>(src);
  for (size_t i = 0; i < n; ++i) out[i] = dtype_ == io::DType::F16 ? f16_to_f32(h[i]) : bf16_to_f32(h[i]);
}

void HiddenStates::write(int64_t w, const float* in) {
  HESSQ_CHECK(w >= 0 && w < windows_, "hidden states: window {} out of range [0, {})", w, windows_);
  const size_t n = static_cast<size_t>(window_ * dim_);
  uint8_t* dst = data_ + static_cast<size_t>(w) * n * io::dtype_size(dtype_);
  if (dtype_ == io::DType::F32) {
    std::memcpy(dst, in, n * sizeof(float));
    return;
  }
  uint16_t* h = reinterpret_cast<uint16_t*>(dst);
  for (size_t i = 0; i < n; ++i) h[i] = dtype_ == io::DType::F16 ? f32_to_f16(in[i]) : f32_to_bf16(in[i]);
}

}  // namespace hessq::pipeline
