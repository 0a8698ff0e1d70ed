// QuantizedLinear: a block linear whose weight is stored quantized, in one of two layouts:
//
// - IntBlocks (kernels/int_blocks.hpp): INT-b, b = 2..8, per output channel or per group of 32k
//   values. Codes take exactly b bits, each group's F16 scale (and zero byte) sits before its codes.
//   The layer runs on the packed bytes and holds no fp32 copy of its weight:
//     decode (fewer than kInt8MaxTokens tokens, Int8Activations::Auto): the activation vector is
//       quantized to int8 per block of 32 and multiplied with integer dot products (int_gemv.hpp);
//       this adds the activation rounding to the weight quantization (docs/RESULTS.md measures it);
//     prefill (and decode with Int8Activations::Off): W_q is decoded into a transient fp32 buffer and
//       multiplied by the same sgemm as DenseLinear, so the result equals the fake-quantized model's
//       bit for bit ([choice]: a whole-layer buffer rather than tiles, for that equality; it lives for
//       one call). Exact decode decodes 64-row tiles into a per-thread buffer for the fp32 GEMV.
// - Planar (formats::pack's containers, quant_spec.hpp "Storage"): every other format (NVFP4, MX,
//   FP8, FP4, INT per tensor or in groups that are not a multiple of 32). The layer decodes W_q to
//   fp32 once when built and runs DenseLinear's product on it (simulated quantization).
// Either way, the result is the model with W replaced by W_q (METHODS.md "Numeric formats").
//
// Padding: when a per-group format's group does not divide the input dim n, the quantizer works on
// W zero-padded to `stored_in` = ceil(n / g) * g columns (equal to quantizing the ragged last group on
// its own, see methods/layer_quant.hpp); the packed arrays cover [m, stored_in].
//
// It lives in model/ (below io) because io::load_model builds it when reading a .hessq directory.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hessq/core/tensor.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/kernels/int_blocks.hpp"
#include "hessq/model/linear.hpp"

namespace hessq::model {

enum class WeightLayout { Planar, IntBlocks };
const char* layout_name(WeightLayout l);  // "planar", "int-blocks" (the .hessq record's "layout")

// When packed INT layers quantize their input to int8 (int_gemv.hpp): Auto for calls of fewer than
// kInt8MaxTokens tokens (decode), On for every call (measures the accuracy effect on perplexity), Off
// never (every product exact in the activations). Process-wide; the CLI's --int8-activations sets it.
enum class Int8Activations { Auto, On, Off };
constexpr int kInt8MaxTokens = 8;
void set_int8_activations(Int8Activations mode);
Int8Activations int8_activations();
// Sets the mode for a scope and restores the previous one.
class ScopedInt8Activations {
 public:
  explicit ScopedInt8Activations(Int8Activations mode) : saved_(int8_activations()) { set_int8_activations(mode); }
  ~ScopedInt8Activations() { set_int8_activations(saved_); }
  ScopedInt8Activations(const ScopedInt8Activations&) = delete;
  ScopedInt8Activations& operator=(const ScopedInt8Activations&) = delete;

 private:
  Int8Activations saved_;
};

// The block layout of a weight spec, if it has one (see the top of this file).
std::optional<kernels::IntBlockLayout> int_block_layout(const formats::QuantSpec& spec, int64_t m, int64_t n,
                                                         const std::string& what);

class QuantizedLinear final : public model::Linear {
 public:
  // Planar: W_q [m, n] = the first n columns of unpack(spec, packed) over [m, stored_in] (the caller
  // decodes; see make_quantized_linear). stored_in = 0 means n (no padding).
  QuantizedLinear(formats::QuantSpec spec, formats::Packed packed, Tensor W_q, std::optional<Tensor> bias = std::nullopt,
                  int64_t stored_in = 0);
  // IntBlocks: `blocks` holds int_block_layout(spec, m, n)'s bytes (checked).
  QuantizedLinear(formats::QuantSpec spec, std::vector<uint8_t> blocks, int64_t m, int64_t n, int64_t stored_in,
                  std::optional<Tensor> bias, const std::string& name);

  int in_features() const override { return static_cast<int>(n_); }
  int out_features() const override { return static_cast<int>(m_); }
  void forward(const float* x, int n_tokens, float* y) const override;
  // The product with unquantized activations, whatever int8_activations() says (W4A8 / W4A4 layers
  // quantize their activations themselves, model/act_quant_linear.hpp).
  void forward_exact(const float* x, int n_tokens, float* y) const;
  // Whether forward() of n_tokens runs on int8 activations (int_gemv per token; see Int8Activations).
  bool uses_int8(int n_tokens) const;
  void add_bias(float* y, int n_tokens) const;  // y[t, :] += b (nothing without a bias)

  const formats::QuantSpec& spec() const { return spec_; }
  WeightLayout layout() const { return layout_; }
  // The stored bytes: Planar codes / scales / zeros; IntBlocks: `codes` holds the blocks, the rest is empty.
  const formats::Packed& packed() const { return packed_; }
  const std::optional<kernels::IntBlockLayout>& blocks() const { return blocks_; }
  Tensor dequantized() const;  // W_q [m, n] in fp32 (a copy for IntBlocks, decoded here)
  void dequantize_row(int64_t r, float* out) const;  // row r of W_q into out [n] (an embedding lookup)
  const std::optional<Tensor>& bias() const { return bias_; }
  int64_t stored_in_features() const { return stored_in_; }  // >= in_features() when padded
  // Bytes stored for the weight: codes, scales, zero points (and NVFP4's FP32 global scale).
  int64_t packed_bytes() const;
  // packed_bytes() * 8 per real weight, everything counted (padding is overhead).
  double bits_per_weight() const { return static_cast<double>(packed_bytes()) * 8.0 / (static_cast<double>(m_) * n_); }

 private:
  formats::QuantSpec spec_;
  WeightLayout layout_;
  formats::Packed packed_;
  std::optional<kernels::IntBlockLayout> blocks_;  // IntBlocks
  std::optional<DenseLinear> dense_;               // Planar: W_q decoded
  std::optional<Tensor> bias_;
  int64_t m_, n_, stored_in_;
};

// A solver's output (methods::QuantizedWeight) as a packed layer. W_in: the weight the solver
// received, W_q: its result, both row-major [m, n'] with n' >= n = in_features (zero-padded inputs
// when n' > n). Without per-group parameters W_q = fake_quant(W_in) and W_in is packed; with them
// (GPTQ) W_q is packed on their grid; a solver that packed W_q itself passes `prepacked`. The decoded
// weight must equal W_q bit for bit, else this throws naming `name` (a solver and its format
// disagree). INT formats with a block layout are stored as blocks (checked the same way).
std::shared_ptr<QuantizedLinear> make_quantized_linear(const formats::QuantSpec& spec, const float* W_in,
                                                       const float* W_q,
                                                       const std::vector<formats::IntParams>& int_params, int64_t m,
                                                       int64_t n_stored, int64_t in_features,
                                                       std::optional<Tensor> bias, const std::string& name,
                                                       const formats::Packed* prepacked = nullptr);

}  // namespace hessq::model
