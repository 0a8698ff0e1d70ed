#include "hessq/formats/ggml_format.hpp"

#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_blocks.hpp"
#include "hessq/formats/ggml_quantize.hpp"
#include "hessq/formats/ggml_types.hpp"

namespace hessq::formats {

namespace {

GgmlType type_of(const QuantSpec& spec) { return ggml_block_type(spec.ggml_type); }

// ggml's quantizers throw on NaN/Inf; they run in parallel loops, so the input is checked first.
void check_finite(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows * cols; ++i)
    HESSQ_CHECK(std::isfinite(x[i]), "{}: value [{}, {}] is {} (ggml's quantizers need finite values)", spec.name(),
                i / cols, i % cols, x[i]);
}

}  // namespace

int64_t ggml_row_bytes(const QuantSpec& spec, int64_t cols) {
  const GgmlTypeTraits* t = ggml_type_traits(spec.ggml_type);
  HESSQ_CHECK(t && t->block_codec, "quant spec: ggml type {} has no block codec", spec.ggml_type);
  HESSQ_CHECK(cols % t->block == 0, "{}: rows of {} values do not fill whole blocks of {} (ggml blocks cannot be padded)",
              spec.name(), cols, t->block);
  return cols / t->block * t->bytes;
}

int64_t ggml_num_scales(const QuantSpec&, int64_t, int64_t) { return 0; }

Packed ggml_pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols) {
  const int64_t rb = ggml_row_bytes(spec, cols);
  check_finite(spec, x, rows, cols);
  Packed p;
  p.scale_dtype = "ggml";
  p.codes.resize(static_cast<size_t>(rows * rb));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) ggml_quantize_row_ref(type_of(spec), x + r * cols, cols, p.codes.data() + r * rb);
  return p;
}

void ggml_unpack(const QuantSpec& spec, const Packed& p, int64_t rows, int64_t cols, float* out) {
  const int64_t rb = ggml_row_bytes(spec, cols);
  HESSQ_CHECK(static_cast<int64_t>(p.codes.size()) == rows * rb && p.scales.empty() && p.zeros.empty(),
              "{}: packed data of {} bytes, expected {} rows x {} bytes of blocks", spec.name(), p.codes.size(), rows,
              rb);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) ggml_dequantize(type_of(spec), p.codes.data() + r * rb, cols, out + r * cols);
}

void ggml_fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out) {
  const int64_t rb = ggml_row_bytes(spec, cols);
  check_finite(spec, x, rows, cols);
#pragma omp parallel
  {
    std::vector<uint8_t> row(static_cast<size_t>(rb));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      ggml_quantize_row_ref(type_of(spec), x + r * cols, cols, row.data());
      ggml_dequantize(type_of(spec), row.data(), cols, out + r * cols);
    }
  }
}

}  // namespace hessq::formats
