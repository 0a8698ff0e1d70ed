#include "hessq/core/tensor.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hessq/core/error.hpp"

namespace hessq {

Tensor Tensor::zeros(Shape shape) {
  Tensor t{std::move(shape), nullptr};
  auto n = static_cast<size_t>(t.numel());
  t.data = std::shared_ptr<float>(new float[n](), std::default_delete<float[]>());
  return t;
}

Tensor Tensor::from(Shape shape, std::vector<float> values) {
  Tensor t = zeros(std::move(shape));
  HESSQ_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "tensor of shape {} given {} values",
              shape_str(t.shape), values.size());
  std::copy(values.begin(), values.end(), t.data.get());
  return t;
}

Tensor Tensor::view(Shape shape, float* ptr, std::shared_ptr<void> owner) {
  return Tensor{std::move(shape), std::shared_ptr<float>(std::move(owner), ptr)};
}

Tensor Tensor::clone() const {
  Tensor t = zeros(shape);
  std::copy(data.get(), data.get() + numel(), t.data.get());
  return t;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace hessq
