#include "hessq/methods/gptq_mx.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/formats/fp4.hpp"
#include "hessq/formats/fp8.hpp"
#include "hessq/formats/mx.hpp"
#include "hessq/formats/nvfp4.hpp"
#include "hessq/methods/gptq_blocked.hpp"
#include "hessq/methods/rtn.hpp"

namespace hessq::methods {

namespace {

float abs_max(const float* x, int64_t n) {
  float a = 0.0f;
  for (int64_t i = 0; i < n; ++i) a = std::max(a, std::fabs(x[i]));
  return a;
}

// MXFP4: scale 2^(floor(log2 amax) - 2) (E8M0, formats/mx.hpp).
struct MxGrid {
  std::vector<float> scale, inv;
  explicit MxGrid(int64_t m) : scale(m), inv(m) {}
  void begin(const MatF&) {}
  void enter(int64_t r, int64_t, const float* x, int64_t len) {
    constexpr int kEmax = 2;  // E2M1's largest exponent
    const float amax = abs_max(x, len);
    const uint8_t byte = formats::mx_scale_byte(amax, kEmax);
    scale[r] = formats::mx_scale_value(byte);
    inv[r] = std::ldexp(1.0f, 127 - byte);
  }
  float quant(int64_t r, int64_t, float w) const {
    return formats::e2m1_decode(formats::e2m1_encode(w * inv[r])) * scale[r];
  }
};

// NVFP4 1x16: g fixed from the weight the loop starts with (after dead columns), E4M3 block scales
// chosen per block and recorded for packing (formats::nvfp4_pack_on_grid).
struct NvGrid {
  int64_t nb;
  float g = 1.0f;
  std::vector<float> s;
  std::vector<uint8_t> codes;  // [m, nb]
  NvGrid(int64_t m, int64_t n) : nb((n + formats::kNvfp4Block - 1) / formats::kNvfp4Block), s(m), codes(m * nb) {}
  void begin(const MatF& W) { g = formats::nvfp4_global_scale(W.data(), W.size()); }
  void enter(int64_t r, int64_t b, const float* x, int64_t len) {
    codes[r * nb + b] = formats::nvfp4_block_scale_code(abs_max(x, len), g);
    s[r] = formats::e4m3_decode(codes[r * nb + b]);
  }
  float quant(int64_t r, int64_t, float w) const { return formats::nvfp4_quant_dequant(w, s[r], g); }
};

}  // namespace

QuantizedWeight solve_gptq_mx(const MatF& W0, const linalg::Mat& H0, const formats::QuantSpec& spec,
                              const GptqOptions& opt) {
  return solve_gptq_mx(W0, linalg::Mat(H0), spec, opt);
}

QuantizedWeight solve_gptq_mx(const MatF& W0, linalg::Mat&& H_given, const formats::QuantSpec& spec,
                              const GptqOptions& opt) {
  linalg::Mat H = std::move(H_given);  // ours from here: factored in place, freed on return
  HESSQ_CHECK(spec.format == formats::Format::MxFp4,
              "gptq-mx: spec '{}' is not MXFP4 (GPTQ supports INT, MXFP4 and NVFP4 weight formats)", spec.name());
  detail::check_blocked_inputs(W0, H, opt, "gptq-mx");
  MxGrid grid(W0.rows());
  QuantizedWeight out;
  out.spec = spec;
  out.W_q = detail::gptq_blocked<formats::kMxBlock>(W0, H, opt, grid, out.proxy_loss);
  return out;
}

QuantizedWeight solve_gptq_nvfp4(const MatF& W0, const linalg::Mat& H0, const formats::QuantSpec& spec,
                                 const GptqOptions& opt) {
  return solve_gptq_nvfp4(W0, linalg::Mat(H0), spec, opt);
}

QuantizedWeight solve_gptq_nvfp4(const MatF& W0, linalg::Mat&& H_given, const formats::QuantSpec& spec,
                                 const GptqOptions& opt) {
  linalg::Mat H = std::move(H_given);  // ours from here: factored in place, freed on return
  HESSQ_CHECK(spec.format == formats::Format::NvFp4 && !spec.nvfp4_ref &&
                  spec.granularity != formats::Granularity::Tile2D,
              "gptq-nvfp4: spec '{}' is not NVFP4 with 1x16 blocks (16x16 tiles and the reference mode are not "
              "supported)",
              spec.name());
  detail::check_blocked_inputs(W0, H, opt, "gptq-nvfp4");
  NvGrid grid(W0.rows(), W0.cols());
  QuantizedWeight out;
  out.spec = spec;
  out.W_q = detail::gptq_blocked<formats::kNvfp4Block>(W0, H, opt, grid, out.proxy_loss);
  out.packed = formats::nvfp4_pack_on_grid(spec, out.W_q.data(), out.W_q.rows(), out.W_q.cols(), grid.g, grid.codes);
  return out;
}

}  // namespace hessq::methods
