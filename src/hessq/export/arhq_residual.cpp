#include "hessq/export/arhq_residual.hpp"

#include <cmath>
#include <cstring>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/formats/fp8.hpp"
#include "hessq/formats/nvfp4.hpp"

namespace hessq::exporting {

namespace {

constexpr int kTile = formats::kNvfp4Block;  // the reference's 16x16 blocks are NVFP4's 16x16 tiles
constexpr uint8_t kZeroIndex = 7;            // codebook index of the value 0

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

float f16_round(float v) { return f16_to_f32(f32_to_f16(v)); }

// The value of tile scale `i` of hessq's packed NVFP4 weight (formats/nvfp4.hpp).
float tile_scale(const formats::Packed& p, int64_t i) {
  if (p.scale_dtype == "F32") {  // nvfp4-ref: the e4m3_sim value itself
    float s;
    std::memcpy(&s, p.scales.data() + 4 * i, 4);
    return s;
  }
  return formats::e4m3_decode(p.scales[static_cast<size_t>(i)]) * p.global_scale;  // E4M3 byte times g
}

}  // namespace

uint8_t arhq_codebook_index(uint8_t e2m1_code) {
  const uint8_t mag = e2m1_code & 7u;
  return (e2m1_code & 8u) ? static_cast<uint8_t>(kZeroIndex - mag) : static_cast<uint8_t>(kZeroIndex + mag);
}

float arhq_codebook_value(uint8_t index) {
  static constexpr float kCodebook[15] = {-6.0f, -4.0f, -3.0f, -2.0f, -1.5f, -1.0f, -0.5f, 0.0f,
                                          0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f};
  HESSQ_CHECK(index < 15, "codebook index {} out of range 0..14", index);
  return kCodebook[index];
}

std::vector<uint16_t> arhq_residual_f16(const model::QuantizedLinear& q, const std::vector<int64_t>& row_order,
                                        const std::string& name, int64_t* inexact) {
  const int64_t m = q.out_features(), n = q.in_features();
  HESSQ_CHECK(row_order.empty() || static_cast<int64_t>(row_order.size()) == m,
              "{}: row order has {} entries for {} rows", name, row_order.size(), m);
  const Tensor W = q.dequantized();
  std::vector<uint16_t> out(static_cast<size_t>(m * n));
  int64_t changed = 0;
  for (int64_t r = 0; r < m; ++r) {
    const int64_t src = row_order.empty() ? r : row_order[static_cast<size_t>(r)];
    for (int64_t c = 0; c < n; ++c) {
      const float v = W.ptr()[src * n + c];
      const uint16_t h = f32_to_f16(v);
      const float back = f16_to_f32(h);
      HESSQ_CHECK(std::isfinite(back), "{}.W_res_q: W_res[{}, {}] = {} is beyond the f16 range of the artifact", name,
                  src, c, v);
      changed += back != v;
      out[static_cast<size_t>(r * n + c)] = h;
    }
  }
  if (inexact) *inexact = changed;
  return out;
}

std::string arhq_packed_unsupported(const model::QuantizedLinear& q, bool rows_reordered) {
  const formats::QuantSpec& s = q.spec();
  if (s.format != formats::Format::NvFp4 || s.granularity != formats::Granularity::Tile2D)
    return "its weight format " + s.name() + " does not use 16x16 tiles (nvfp4-ref and nvfp4-2d do)";
  if (rows_reordered)
    return "its rows are reordered for the artifact (q/k rows from llama2.c's interleaved RoPE layout to HF's), "
           "which breaks up the 16x16 tiles";
  return {};
}

ArhqPackedResidual arhq_pack_residual(const model::QuantizedLinear& q, const std::string& name) {
  const std::string why = arhq_packed_unsupported(q, false);
  HESSQ_CHECK(why.empty(), "{}: no packed4bit form: {}; export with --type fp16", name, why);
  const formats::Packed& p = q.packed();
  const int64_t m = q.out_features(), n = q.in_features(), cols = q.stored_in_features();
  const int64_t H = ceil_div(m, kTile) * kTile, Wd = ceil_div(n, kTile) * kTile;
  const int64_t tiles_c = ceil_div(cols, kTile), row_bytes = ceil_div(cols, 2);
  HESSQ_CHECK(static_cast<int64_t>(p.codes.size()) == m * row_bytes && cols == n,
              "{}: packed NVFP4 codes have {} bytes, expected {} for [{}, {}]", name, p.codes.size(), m * row_bytes, m,
              n);

  ArhqPackedResidual out;
  out.orig_shape[0] = static_cast<int32_t>(m);
  out.orig_shape[1] = static_cast<int32_t>(n);
  out.padded_shape[0] = static_cast<int32_t>(H);
  out.padded_shape[1] = static_cast<int32_t>(Wd);
  out.scale.resize(static_cast<size_t>((H / kTile) * (Wd / kTile)));
  for (int64_t tr = 0; tr < H / kTile; ++tr)
    for (int64_t tc = 0; tc < Wd / kTile; ++tc) {
      const float s = tile_scale(p, tr * tiles_c + tc);
      HESSQ_CHECK(f16_round(s) == s,
                  "{}: no packed4bit form: the scale of tile ({}, {}) is {:.9g}, not an f16 value (the artifact stores "
                  "tile scales as f16; nvfp4-ref scales are, scales times an FP32 global scale rarely are); export with "
                  "--type fp16",
                  name, tr, tc, s);
      out.scale[static_cast<size_t>(tr * (Wd / kTile) + tc)] = f32_to_f16(s);
    }

  // Codebook indices of the padded [H, Wd] matrix in row-major order, two per byte, low nibble first.
  out.packed.assign(static_cast<size_t>(ceil_div(H * Wd, 2)), static_cast<uint8_t>(kZeroIndex | (kZeroIndex << 4)));
  const Tensor W = q.dequantized();
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) {
      const uint8_t code = (p.codes[static_cast<size_t>(r * row_bytes + c / 2)] >> (4 * (c & 1))) & 0xFu;
      const uint8_t index = arhq_codebook_index(code);
      const int64_t k = r * Wd + c;
      uint8_t& byte = out.packed[static_cast<size_t>(k / 2)];
      byte = (k & 1) ? static_cast<uint8_t>((byte & 0x0Fu) | (index << 4)) : static_cast<uint8_t>((byte & 0xF0u) | index);
      // The packed element must be the value hessq runs: the reference decodes codebook[i] * scale, in
      // f16 by default (nvfp4_unpack_2d), so the product must also be an f16 value.
      const float s = f16_to_f32(out.scale[static_cast<size_t>((r / kTile) * (Wd / kTile) + c / kTile)]);
      const float v = arhq_codebook_value(index) * s;
      HESSQ_CHECK(v == W.ptr()[r * n + c] && f16_round(v) == v,
                  "{}: no packed4bit form: element [{}, {}] decodes to {:.9g} in the artifact's layout but hessq's "
                  "weight is {:.9g}; export with --type fp16",
                  name, r, c, v, W.ptr()[r * n + c]);
    }
  return out;
}

}  // namespace hessq::exporting
