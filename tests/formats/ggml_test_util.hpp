// Shared by the ggml quantizer tests: the types with an importance-weighted quantizer and the
// (weighted) squared error of a quantized row.
#pragma once
#include <cstdint>
#include <vector>

#include "hessq/formats/ggml_quantize.hpp"

namespace hessq::formats::test {

inline const GgmlType kGgmlWeighted[] = {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0,
                                         GgmlType::kQ5_1, GgmlType::kQ2_K, GgmlType::kQ3_K,
                                         GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};

// sum_j w_j (x_j - q_j)^2 (w == nullptr: w_j = 1) for q the row x[0, n) quantized by
// ggml_quantize_row(t, x, n, importance) and decoded.
inline double quant_error(GgmlType t, const float* x, int64_t n, const float* importance, const float* w) {
  const GgmlBlockShape s = ggml_block_shape(t);
  std::vector<uint8_t> q(static_cast<size_t>(n / s.block * s.bytes));
  std::vector<float> dq(static_cast<size_t>(n));
  ggml_quantize_row(t, x, n, importance, q.data());
  ggml_dequantize(t, q.data(), n, dq.data());
  double e = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double d = static_cast<double>(x[j]) - dq[static_cast<size_t>(j)];
    e += (w ? w[j] : 1.0) * d * d;
  }
  return e;
}

}  // namespace hessq::formats::test
