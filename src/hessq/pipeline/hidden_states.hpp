// HiddenStates: the residual stream of every calibration (and held-out) window at the boundary
// between two blocks, [windows, window, dim]. The sequential pipeline keeps one: block k's inputs,
// replaced window by window by block k's outputs, so calibration costs O(L) block forwards instead of
// re-running blocks 0..k for every k (GPTQ's llama_sequential does the same).
// Storage: F32 (default, exact), or F16 / BF16 (half the memory; each block's output is rounded to
// that type, which changes the results slightly); in memory, or in a memory-mapped temporary file
// (spilled) when it should not take resident memory. Values are identical whatever the storage's
// backing; they depend only on the dtype.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hessq/io/dtype.hpp"

namespace hessq::pipeline {

class HiddenStates {
 public:
  // `spill_file`: empty keeps the states in memory; else they live in this file (created, removed by
  // the destructor). dtype: F32, F16 or BF16.
  HiddenStates(int64_t windows, int64_t window, int64_t dim, io::DType dtype, const std::string& spill_file = {});
  ~HiddenStates();
  HiddenStates(const HiddenStates&) = delete;
  HiddenStates& operator=(const HiddenStates&) = delete;
  HiddenStates(HiddenStates&& o) noexcept;

  int64_t windows() const { return windows_; }
  int64_t window() const { return window_; }
  int64_t dim() const { return dim_; }
  io::DType dtype() const { return dtype_; }
  bool spilled() const { return !path_.empty(); }
  // Bytes the states take (in memory or in the file).
  int64_t bytes() const;
  static int64_t bytes_for(int64_t windows, int64_t window, int64_t dim, io::DType dtype);

  void read(int64_t w, float* out) const;    // window w -> out [window, dim]
  void write(int64_t w, const float* in);    // [window, dim] -> window w (rounded to dtype)

 private:
  int64_t windows_, window_, dim_;
  io::DType dtype_;
  std::string path_;
  std::vector<uint8_t> mem_;
  uint8_t* data_ = nullptr;
  size_t mapped_bytes_ = 0;
};

}  // namespace hessq::pipeline
