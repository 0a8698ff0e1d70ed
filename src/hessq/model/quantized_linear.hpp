// QuantizedLinear: a block linear whose weight is stored quantized (integer or low-bit float codes +
// scales (+ zeros), formats::Packed) and runs with its dequantized fp32 weight W_q, decoded once when
// the layer is built. The forward pass is DenseLinear's on W_q, so a quantized model runs exactly
// like the float model with W replaced by W_q (simulated quantization, METHODS.md "Numeric formats").
//
// Padding: when a per-group format's group does not divide the input dim n, the quantizer works on
// W zero-padded to `stored_in` = ceil(n / g) * g columns (equal to quantizing the ragged last group on
// its own, see methods/layer_quant.hpp); the packed arrays cover [m, stored_in], W_q is [m, n].
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
#include "hessq/model/linear.hpp"

namespace hessq::model {

class QuantizedLinear final : public model::Linear {
 public:
  // W_q: [m, n], the first n columns of unpack(spec, packed) over [m, stored_in] (the caller decodes;
  // see make_quantized_linear). stored_in = 0 means n (no padding).
  QuantizedLinear(formats::QuantSpec spec, formats::Packed packed, Tensor W_q, std::optional<Tensor> bias = std::nullopt,
                  int64_t stored_in = 0)
      : spec_(std::move(spec)), packed_(std::move(packed)), dense_(std::move(W_q), std::move(bias)),
        stored_in_(stored_in > 0 ? stored_in : dense_.in_features()) {}

  int in_features() const override { return dense_.in_features(); }
  int out_features() const override { return dense_.out_features(); }
  void forward(const float* x, int n_tokens, float* y) const override { dense_.forward(x, n_tokens, y); }

  const formats::QuantSpec& spec() const { return spec_; }
  const formats::Packed& packed() const { return packed_; }
  const Tensor& weight() const { return dense_.weight(); }  // W_q, dequantized, [m, n]
  const std::optional<Tensor>& bias() const { return dense_.bias(); }
  int64_t stored_in_features() const { return stored_in_; }  // >= in_features() when padded
  // Nominal storage cost of the format (codes + scales + zeros, formats::QuantSpec::bits_per_element)
  // per real weight; padding columns count as overhead.
  double bits_per_weight() const {
    return spec_.bits_per_element(out_features(), stored_in_) * static_cast<double>(stored_in_) / in_features();
  }
  // Bytes actually held by the packed arrays (codes, scales, zeros).
  int64_t packed_bytes() const {
    return static_cast<int64_t>(packed_.codes.size() + packed_.scales.size() + packed_.zeros.size());
  }

 private:
  formats::QuantSpec spec_;
  formats::Packed packed_;
  model::DenseLinear dense_;
  int64_t stored_in_;
};

// A solver's output (methods::QuantizedWeight) as a packed layer. W_in: the weight the solver
// received, W_q: its result, both row-major [m, n'] with n' >= n = in_features (zero-padded inputs
// when n' > n). Without per-group parameters W_q = fake_quant(W_in) and W_in is packed; with them
// (GPTQ) W_q is packed on their grid; a solver that packed W_q itself passes `prepacked`. The decoded weight must equal W_q bit for bit, else this throws
// naming `name` (a solver and its format disagree). The layer runs with the first n columns.
std::shared_ptr<QuantizedLinear> make_quantized_linear(const formats::QuantSpec& spec, const float* W_in,
                                                       const float* W_q,
                                                       const std::vector<formats::IntParams>& int_params, int64_t m,
                                                       int64_t n_stored, int64_t in_features,
                                                       std::optional<Tensor> bias, const std::string& name,
                                                       const formats::Packed* prepacked = nullptr);

}  // namespace hessq::model
