#include "hessq/model/quantized_linear.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/kernels/gemm_f32.hpp"
#include "hessq/kernels/gemv_f32.hpp"
#include "hessq/kernels/int_gemv.hpp"

namespace hessq::model {

namespace {
std::atomic<Int8Activations> g_int8{Int8Activations::Auto};
constexpr int64_t kTileRows = 64;  // exact decode: rows decoded per tile (gemv_f32's row block)
}  // namespace

const char* layout_name(WeightLayout l) { return l == WeightLayout::IntBlocks ? "int-blocks" : "planar"; }
void set_int8_activations(Int8Activations mode) { g_int8 = mode; }
Int8Activations int8_activations() { return g_int8; }

std::optional<kernels::IntBlockLayout> int_block_layout(const formats::QuantSpec& spec, int64_t m, int64_t n,
                                                         const std::string& what) {
  if (spec.format != formats::Format::Int) return std::nullopt;
  int64_t group;
  if (spec.granularity == formats::Granularity::PerChannel) group = 0;
  else if (spec.granularity == formats::Granularity::PerGroup && spec.group % kernels::kIntBlock == 0) group = spec.group;
  else return std::nullopt;
  return kernels::IntBlockLayout::make(spec.bits, !spec.symmetric, m, n, group, what);
}

QuantizedLinear::QuantizedLinear(formats::QuantSpec spec, formats::Packed packed, Tensor W_q, std::optional<Tensor> bias,
                                 int64_t stored_in)
    : spec_(std::move(spec)), layout_(WeightLayout::Planar), packed_(std::move(packed)), dense_(DenseLinear(std::move(W_q))),
      bias_(std::move(bias)), m_(dense_->out_features()), n_(dense_->in_features()),
      stored_in_(stored_in > 0 ? stored_in : n_) {
  HESSQ_CHECK(!bias_ || bias_->numel() == m_, "quantized linear bias has {} values, expected {}", bias_->numel(), m_);
}

QuantizedLinear::QuantizedLinear(formats::QuantSpec spec, std::vector<uint8_t> blocks, int64_t m, int64_t n,
                                 int64_t stored_in, std::optional<Tensor> bias, const std::string& name)
    : spec_(std::move(spec)), layout_(WeightLayout::IntBlocks), bias_(std::move(bias)), m_(m), n_(n),
      stored_in_(stored_in > 0 ? stored_in : n) {
  blocks_ = int_block_layout(spec_, m, n, name);
  HESSQ_CHECK(blocks_.has_value(), "{}: {} has no block layout", name, spec_.name());
  HESSQ_CHECK(static_cast<int64_t>(blocks.size()) == blocks_->total_bytes(), "{}: {} holds {} bytes, expected {}", name,
              blocks_->describe(), blocks.size(), blocks_->total_bytes());
  HESSQ_CHECK(!bias_ || bias_->numel() == m_, "{}: bias has {} values, expected {}", name, bias_->numel(), m_);
  packed_.codes = std::move(blocks);
  packed_.scale_dtype = "F16";
}

int64_t QuantizedLinear::packed_bytes() const {
  const bool global = spec_.format == formats::Format::NvFp4 && !spec_.nvfp4_ref;
  return static_cast<int64_t>(packed_.codes.size() + packed_.scales.size() + packed_.zeros.size()) + (global ? 4 : 0);
}

Tensor QuantizedLinear::dequantized() const {
  if (dense_) return dense_->weight().clone();
  Tensor W = Tensor::zeros({m_, n_});
  const int64_t tiles = (m_ + kTileRows - 1) / kTileRows;
#pragma omp parallel for schedule(static) if (m_ * n_ >= (int64_t{1} << 18))
  for (int64_t t = 0; t < tiles; ++t)
    kernels::dequantize_int_rows(*blocks_, packed_.codes.data(), t * kTileRows, std::min(m_, (t + 1) * kTileRows),
                                 W.ptr() + t * kTileRows * n_);
  return W;
}

void QuantizedLinear::dequantize_row(int64_t r, float* out) const {
  HESSQ_CHECK(r >= 0 && r < m_, "row {} out of range [0, {})", r, m_);
  if (dense_) {
    std::memcpy(out, dense_->weight().ptr() + r * n_, sizeof(float) * static_cast<size_t>(n_));
    return;
  }
  kernels::dequantize_int_rows(*blocks_, packed_.codes.data(), r, r + 1, out);
}

void QuantizedLinear::add_bias(float* y, int n_tokens) const {
  if (!bias_) return;
  const float* b = bias_->ptr();
  for (int t = 0; t < n_tokens; ++t)
    for (int64_t i = 0; i < m_; ++i) y[t * m_ + i] += b[i];
}

bool QuantizedLinear::uses_int8(int n_tokens) const {
  const Int8Activations mode = g_int8;
  return blocks_ && mode != Int8Activations::Off && (mode == Int8Activations::On || n_tokens < kInt8MaxTokens);
}

void QuantizedLinear::forward(const float* x, int n_tokens, float* y) const {
  if (!uses_int8(n_tokens)) return forward_exact(x, n_tokens, y);
  kernels::ActQ8 xq;
  for (int t = 0; t < n_tokens; ++t) {
    kernels::quantize_act_q8(x + t * n_, n_, blocks_->padded_cols(), xq);
    kernels::int_gemv(*blocks_, packed_.codes.data(), xq, y + t * m_, kernels::int_gemv_best_isa());
  }
  add_bias(y, n_tokens);
}

void QuantizedLinear::forward_exact(const float* x, int n_tokens, float* y) const {
  if (dense_) {
    dense_->forward(x, n_tokens, y);
    return add_bias(y, n_tokens);
  }
  if (n_tokens == 1) {  // 64-row tiles decoded per thread, each through the fp32 GEMV
    const int64_t tiles = (m_ + kTileRows - 1) / kTileRows;
#pragma omp parallel if (m_ * n_ >= (int64_t{1} << 18))
    {
      std::vector<float> tile(static_cast<size_t>(kTileRows * n_));
#pragma omp for schedule(static)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t r0 = t * kTileRows, r1 = std::min(m_, r0 + kTileRows);
        kernels::dequantize_int_rows(*blocks_, packed_.codes.data(), r0, r1, tile.data());
        kernels::gemv_f32(tile.data(), x, y + r0, r1 - r0, n_);
      }
    }
  } else {  // prefill: DenseLinear's product on the decoded weight, bit for bit
    const Tensor W = dequantized();
    kernels::gemm_f32_rows(false, true, n_tokens, m_, n_, 1.0f, x, n_, W.ptr(), n_, 0.0f, y, m_);
  }
  add_bias(y, n_tokens);
}

namespace {

// Planar INT codes (formats/quant_spec.hpp "Storage") -> int blocks. Codes are re-based to unsigned
// (symmetric q + 2^(b-1)); scales and zeros are copied byte for byte; padding columns get u = z.
std::vector<uint8_t> planar_to_blocks(const formats::QuantSpec& spec, const formats::Packed& p,
                                      const kernels::IntBlockLayout& L, int64_t n_stored) {
  const int b = spec.bits;
  const bool nibbles = b <= 4;
  const int64_t code_row = nibbles ? (n_stored + 1) / 2 : n_stored;
  const int64_t groups_stored = spec.granularity == formats::Granularity::PerChannel ? 1 : n_stored / spec.group;
  HESSQ_CHECK(groups_stored == L.groups_per_row(), "{}: {} scale groups per row stored, layout has {}", L.describe(),
              groups_stored, L.groups_per_row());
  std::vector<uint8_t> out(static_cast<size_t>(L.total_bytes()), 0);
  uint8_t u[kernels::kIntBlock];
  for (int64_t r = 0; r < L.rows; ++r)
    for (int64_t g = 0; g < L.groups_per_row(); ++g) {
      const int64_t gi = r * L.groups_per_row() + g;
      uint8_t* h = out.data() + r * L.row_bytes() + g * L.group_bytes();
      h[0] = p.scales[2 * gi];
      h[1] = p.scales[2 * gi + 1];
      const int z = L.asym ? p.zeros[gi] : L.symmetric_zero();
      if (L.asym) h[2] = static_cast<uint8_t>(z);
      for (int64_t k = 0; k < L.group / kernels::kIntBlock; ++k) {
        for (int i = 0; i < kernels::kIntBlock; ++i) {
          const int64_t c = g * L.group + k * kernels::kIntBlock + i;
          if (c >= n_stored) {
            u[i] = static_cast<uint8_t>(z);
            continue;
          }
          const uint8_t* row = p.codes.data() + r * code_row;
          int code = nibbles ? (row[c >> 1] >> ((c & 1) * 4)) & 0xF : row[c];
          if (spec.symmetric) code = (code ^ (nibbles ? 8 : 128)) - (nibbles ? 8 : 128) + L.symmetric_zero();
          u[i] = static_cast<uint8_t>(code);
        }
        kernels::encode_int_block(u, b, h + L.header_bytes() + k * L.block_bytes());
      }
    }
  return out;
}

}  // namespace

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
  if (const auto L = int_block_layout(spec, m, n, name)) {
    auto q = std::make_shared<QuantizedLinear>(spec, planar_to_blocks(spec, packed, *L, n_stored), m, n, n_stored,
                                               std::move(bias), name);
    const Tensor W = q->dequantized();  // the blocks too must decode to the solver's weight
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c)
        HESSQ_CHECK(W.ptr()[r * n + c] == W_q[r * n_stored + c],
                    "{}: {} blocks decode to {} at [{}, {}], the solver produced {}", name, L->describe(),
                    W.ptr()[r * n + c], r, c, W_q[r * n_stored + c]);
    return q;
  }
  Tensor out = Tensor::zeros({m, n});
  for (int64_t r = 0; r < m; ++r)
    std::memcpy(out.ptr() + r * n, decoded.data() + r * n_stored, sizeof(float) * static_cast<size_t>(n));
  return std::make_shared<QuantizedLinear>(spec, std::move(packed), std::move(out), std::move(bias), n_stored);
}

}  // namespace hessq::model
