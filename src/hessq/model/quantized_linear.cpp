#include "hessq/model/quantized_linear.hpp"

#include <cstring>

#include "hessq/core/error.hpp"

namespace hessq::model {

std::shared_ptr<QuantizedLinear> make_quantized_linear(const formats::QuantSpec& spec, const float* W_in,
                                                       const float* W_q,
                                                       const std::vector<formats::IntParams>& int_params, int64_t m,
                                                       int64_t n_stored, int64_t in_features,
                                                       std::optional<Tensor> bias, const std::string& name,
                                                       const formats::Packed* prepacked) {
  const int64_t n = in_features;
  HESSQ_CHECK(m > 0 && n > 0 && n <= n_stored, "{}: {} input features but [{}, {}] stored", name, n, m, n_stored);
  formats::Packed packed = prepacked             ? *prepacked
                           : int_params.empty() ? formats::pack(spec, W_in, m, n_stored)
                                                : formats::pack_int(spec, W_q, m, n_stored, int_params);
  std::vector<float> decoded(static_cast<size_t>(m * n_stored));
  formats::unpack(spec, packed, m, n_stored, decoded.data());
  // The stored codes must reproduce exactly the weight the solver evaluated (-0 and +0 compare equal).
  for (int64_t i = 0; i < m * n_stored; ++i)
    HESSQ_CHECK(decoded[i] == W_q[i], "{}: packed {} codes decode to {} at [{}, {}], the solver produced {}", name,
                spec.name(), decoded[i], i / n_stored, i % n_stored, W_q[i]);
  Tensor out = Tensor::zeros({m, n});
  for (int64_t r = 0; r < m; ++r)
    std::memcpy(out.ptr() + r * n, decoded.data() + r * n_stored, sizeof(float) * static_cast<size_t>(n));
  return std::make_shared<QuantizedLinear>(spec, std::move(packed), std::move(out), std::move(bias), n_stored);
}

}  // namespace hessq::model
