// ActQuantLinear: a quantized block linear with what plain weight quantization lacks: a run-time
// activation quantizer Q_x (W4A4, W4A8), a smoothing vector and/or a low-rank branch, as SVDQuant
// (Li et al. 2024, arXiv:2411.05007) and ARHQ (METHODS.md "ARHQ") run it:
//
//   x_s   = x diag(s)^-1                     optional smoothing (SmoothQuant, Xiao et al. 2022)
//   y     = Q_x(x_s) Q_w(W_res)^T + b + (x_s A) B^T     (Q_x = identity when no activation format is set)
//
// W_res [m, n] is stored packed (model::QuantizedLinear: codes + scales, decoded once), Q_x is the
// activation quantizer applied at run time, A [n, r] and B [m, r] are the low-rank branch L = B A^T,
// applied to the *unquantized* (smoothed) input. An online Hadamard rotation of the input (QuaRot) is
// a model::HadamardLinear around this linear: HadamardLinear(ActQuantLinear) computes y(x M).
//
// Activation quantizer [choice]: dynamic and strictly per token. quantize_activations() quantizes
// each row (token) on its own, so a token's result never depends on the other tokens in the batch:
// prefill, chunked perplexity and one-token decode agree. This matters for NVFP4, whose FP32 global
// scale formats::fake_quant takes over the whole call: here it is the token's own amax / (6 * 448).
// Accepted activation formats (check_activation_spec): NVFP4 1x16 (incl. nvfp4-ref-1d), MXFP4, MXFP8,
// INT-b / FP8 / FP4 per token or per group of g inputs. Per-tensor scales (batch dependent) and
// 16x16 tiles are refused.
// Pairing [choice]: block-scaled activations need weights of the same block family (NVFP4 with NVFP4
// weights, MX with MX), since a block-scaled MMA scales both operands over the same K blocks;
// per-token / per-group scaled activations pair with any weight format.
// Padding: NVFP4 and MX quantize a trailing partial block (n not a multiple of 16 / 32) as if
// zero-padded (formats/quant_spec.hpp); an activation group g must divide n (else an error naming
// the linear). The weight side pads its own groups (model::QuantizedLinear::stored_in_features).

#pragma once
#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/core/tensor.hpp"
#include "hessq/formats/quant_spec.hpp"
#include "hessq/model/linear.hpp"
#include "hessq/model/quantized_linear.hpp"

namespace hessq::model {

// Throws naming `name` if `x` is not a usable activation quantizer for an n-input linear whose
// weight is quantized with `w` (see the header comment for the rules).
inline void check_activation_spec(const formats::QuantSpec& x, const formats::QuantSpec& w, int64_t n,
                                  const std::string& name) {
  using formats::Format;
  using formats::Granularity;
  formats::validate(x);
  const std::string xs = x.name(), ws = w.name();
  HESSQ_CHECK(x.granularity != Granularity::PerTensor,
              "{}: activation format {} has one scale per tensor, which depends on the batch; use a per-token form "
              "(e.g. {}-tok) or a block format (nvfp4, mxfp4)",
              name, xs, xs.substr(0, xs.find('-')));
  HESSQ_CHECK(x.granularity != Granularity::Tile2D,
              "{}: activation format {} uses 16x16 tiles, which mix tokens; activations are quantized per token "
              "(nvfp4 = 1x16 blocks)",
              name, xs);
  const bool x_nv = x.format == Format::NvFp4, x_mx = x.format == Format::MxFp4 || x.format == Format::MxFp8;
  const bool w_nv = w.format == Format::NvFp4, w_mx = w.format == Format::MxFp4 || w.format == Format::MxFp8;
  HESSQ_CHECK(!x_nv || w_nv,
              "{}: activation format {} is NVFP4 but the weight format is {}: an NVFP4 MMA scales both operands per "
              "16 inputs, so NVFP4 activations need NVFP4 weights (nvfp4, nvfp4-2d, nvfp4-ref)",
              name, xs, ws);
  HESSQ_CHECK(!x_mx || w_mx,
              "{}: activation format {} is OCP MX but the weight format is {}: an MX dot product scales both "
              "operands per 32 inputs, so MX activations need MX weights (mxfp4, mxfp8)",
              name, xs, ws);
  if (!x_nv && !x_mx && x.granularity == Granularity::PerGroup)
    HESSQ_CHECK(x.group > 0 && n % x.group == 0,
                "{}: activation group {} does not divide the {} inputs (activations are not padded); use a per-token "
                "format ({}-tok) or a group that divides {}",
                name, x.group, n, xs.substr(0, xs.find('-')), n);
}

// Q_x applied to each row of x [rows, n] on its own (see [choice] above). out may alias x.
inline void quantize_activations(const formats::QuantSpec& spec, const float* x, int64_t rows, int64_t n, float* out) {
  constexpr int64_t kParallelMinElements = int64_t{1} << 16;  // below this a thread team costs more than it saves
#pragma omp parallel for schedule(static) if (rows * n >= kParallelMinElements)
  for (int64_t t = 0; t < rows; ++t) formats::fake_quant(spec, x + t * n, 1, n, out + t * n);
}

// The low-rank branch L = B A^T, in the fp32 values the layer runs with.
struct LowRankBranch {
  Tensor A;            // [n, r]
  Tensor B;            // [m, r]
  std::string dtype;   // storage: "F16" (values are exactly f16-representable) or "F32"
  int rank() const { return A.shape.size() == 2 ? static_cast<int>(A.shape[1]) : 0; }
  int storage_bits() const { return dtype == "F16" ? 16 : 32; }
};

class ActQuantLinear final : public model::Linear {
 public:
  // weight: Q_w(W_res) (its bias, if any, is the layer's bias); act: Q_x; smooth: s [n] (input divided
  // by s) or none; lowrank: none or rank >= 1. Throws naming `name` on shape or format mismatches.
  ActQuantLinear(std::shared_ptr<QuantizedLinear> weight, std::optional<formats::QuantSpec> act,
                 std::optional<Tensor> smooth, std::optional<LowRankBranch> lowrank, const std::string& name)
      : weight_(std::move(weight)), act_(std::move(act)), smooth_(std::move(smooth)), lowrank_(std::move(lowrank)) {
    HESSQ_CHECK(weight_ != nullptr, "{}: no residual weight", name);
    const int64_t m = weight_->out_features(), n = weight_->in_features();
    if (act_) check_activation_spec(*act_, weight_->spec(), n, name);
    if (smooth_) {
      HESSQ_CHECK(smooth_->numel() == n, "{}: smoothing vector has {} entries, the layer has {} inputs", name,
                  smooth_->numel(), n);
      for (int64_t j = 0; j < n; ++j)
        HESSQ_CHECK(smooth_->ptr()[j] > 0 && std::isfinite(smooth_->ptr()[j]),
                    "{}: smoothing scale s[{}] = {} must be finite and > 0", name, j, smooth_->ptr()[j]);
    }
    if (lowrank_) {
      const LowRankBranch& L = *lowrank_;
      HESSQ_CHECK(L.A.shape.size() == 2 && L.B.shape.size() == 2 && L.A.shape[0] == n && L.B.shape[0] == m &&
                      L.A.shape[1] == L.B.shape[1] && L.A.shape[1] >= 1,
                  "{}: low-rank factors A {} and B {} do not fit a [{}, {}] layer (expected A [{}, r], B [{}, r], r >= 1)",
                  name, shape_str(L.A.shape), shape_str(L.B.shape), m, n, n, m);
      HESSQ_CHECK(L.dtype == "F16" || L.dtype == "F32", "{}: low-rank storage dtype {} (expected F16 or F32)", name,
                  L.dtype);
    }
  }

  int in_features() const override { return weight_->in_features(); }
  int out_features() const override { return weight_->out_features(); }

  // y = Q_x(x_s) W_q^T + b + (x_s A) B^T with x_s = x / s. x: [n_tokens, n], y: [n_tokens, m].
  void forward(const float* x, int n_tokens, float* y) const override {
    const int64_t n = in_features(), m = out_features(), T = n_tokens;
    std::vector<float> xs;
    const float* x_s = x;
    if (smooth_) {  // Step 1: the smoothed input
      xs.resize(static_cast<size_t>(T * n));
      const float* s = smooth_->ptr();
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < n; ++j) xs[t * n + j] = x[t * n + j] / s[j];
      x_s = xs.data();
    }
    std::vector<float> xq;  // Step 2: Q_x, per token (weight-only layers skip it)
    if (act_) {
      xq.resize(static_cast<size_t>(T * n));
      quantize_activations(*act_, x_s, T, n, xq.data());
    }
    weight_->forward_exact(act_ ? xq.data() : x_s, n_tokens, y);  // Step 3: quantized GEMM (+ bias)
    if (lowrank_) {                            // Step 4: the branch on the unquantized x_s
      const int r = lowrank_->rank();
      std::vector<float> t(static_cast<size_t>(T * r));
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_tokens, r, static_cast<int>(n), 1.0f, x_s,
                  static_cast<int>(n), lowrank_->A.ptr(), r, 0.0f, t.data(), r);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens, static_cast<int>(m), r, 1.0f, t.data(), r,
                  lowrank_->B.ptr(), r, 1.0f, y, static_cast<int>(m));
    }
  }

  const std::shared_ptr<QuantizedLinear>& residual() const { return weight_; }  // Q_w(W_res)
  const std::optional<formats::QuantSpec>& act_spec() const { return act_; }  // none: weight-only
  const std::optional<Tensor>& smooth() const { return smooth_; }
  const std::optional<LowRankBranch>& lowrank() const { return lowrank_; }
  int rank() const { return lowrank_ ? lowrank_->rank() : 0; }

  // Parameters beyond the residual weight: r (m + n) for the branch, n for a smoothing vector.
  int64_t extra_params() const {
    const int64_t m = out_features(), n = in_features();
    return static_cast<int64_t>(rank()) * (m + n) + (smooth_ ? n : 0);
  }
  // Storage per real weight: the residual format's nominal bits (codes, scales, zeros, padding), plus
  // the branch in its storage dtype and the smoothing vector in F32, spread over the m n weights.
  double bits_per_weight() const {
    const double mn = static_cast<double>(out_features()) * in_features();
    double extra = 0;
    if (lowrank_) extra += static_cast<double>(lowrank_->storage_bits()) * rank() * (out_features() + in_features());
    if (smooth_) extra += 32.0 * in_features();
    return weight_->bits_per_weight() + extra / mn;
  }

 private:
  std::shared_ptr<QuantizedLinear> weight_;
  std::optional<formats::QuantSpec> act_;  // Q_x; none for a weight-only layer
  std::optional<Tensor> smooth_;           // [n]
  std::optional<LowRankBranch> lowrank_;   // A [n, r], B [m, r]
};

}  // namespace hessq::model
