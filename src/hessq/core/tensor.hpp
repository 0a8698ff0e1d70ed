// Tensor: a named-free, row-major float32 array. Data is either owned or a view into a mapped file;
// either way `data` keeps its storage alive (shared_ptr aliasing), so views are as safe as copies.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hessq {

using Shape = std::vector<int64_t>;

struct Tensor {
  Shape shape;
  std::shared_ptr<float> data;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t rows() const { return shape.empty() ? 1 : shape[0]; }        // [rows, cols] for 2-D
  int64_t cols() const { return shape.size() < 2 ? numel() : numel() / shape[0]; }
  float* ptr() const { return data.get(); }

  static Tensor zeros(Shape shape);
  static Tensor from(Shape shape, std::vector<float> values);
  // A view of `count` floats at `ptr`, kept alive by `owner` (a mapping or another tensor).
  static Tensor view(Shape shape, float* ptr, std::shared_ptr<void> owner);
  Tensor clone() const;
};

// Tensors by checkpoint name (HuggingFace names, e.g. "model.layers.0.self_attn.q_proj.weight").
using TensorMap = std::map<std::string, Tensor>;

std::string shape_str(const Shape& shape);  // "[64, 172]"

}  // namespace hessq
