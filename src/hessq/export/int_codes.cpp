#include "hessq/export/int_codes.hpp"

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/formats/packing.hpp"

namespace hessq::exporting {

using formats::Granularity;

// Int blocks (kernels/int_blocks.hpp): each group's header gives s and z, its blocks the codes u.
static void from_blocks(const model::QuantizedLinear& q, IntCodes& c) {
  const kernels::IntBlockLayout& L = *q.blocks();
  const uint8_t* data = q.packed().codes.data();
  const int64_t gpr = L.groups_per_row();
  uint8_t u[kernels::kIntBlock];
  for (int64_t r = 0; r < c.rows; ++r) {
    const uint8_t* p = data + r * L.row_bytes();
    for (int64_t g = 0; g < gpr; ++g, p += L.group_bytes()) {
      const kernels::IntGroupHeader h = kernels::read_group_header(L, p);
      const int64_t k = r * c.groups() + g;
      c.scales[k] = h.scale;  // groups_per_row() == c.groups(): per channel both are 1
      c.zeros[k] = static_cast<uint8_t>(h.zero);
      const uint8_t* b = p + L.header_bytes();
      for (int64_t blk = 0; blk < L.group / kernels::kIntBlock; ++blk, b += L.block_bytes()) {
        kernels::decode_int_block(b, L.bits, u);
        for (int i = 0; i < kernels::kIntBlock; ++i) {
          const int64_t col = g * L.group + blk * kernels::kIntBlock + i;
          if (col < c.cols) c.codes[r * c.cols + col] = u[i];
        }
      }
    }
  }
}

// Planar (formats/quant_spec.hpp "Storage"): codes in 4- or 8-bit containers over [m, stored_in],
// symmetric ones two's complement; F16 scales and zero bytes in num_scales() order.
static void from_planar(const model::QuantizedLinear& q, IntCodes& c) {
  const formats::QuantSpec& spec = q.spec();
  const formats::Packed& pk = q.packed();
  const formats::CodeLayout L{spec.bits <= 4 ? 4 : 8, q.stored_in_features()};
  const int64_t stored_groups = spec.granularity == Granularity::PerGroup ? q.stored_in_features() / spec.group : 1;
  const int zero = 1 << (spec.bits - 1);
  for (int64_t r = 0; r < c.rows; ++r) {
    for (int64_t g = 0; g < c.groups(); ++g) {
      const int64_t i = spec.granularity == Granularity::PerTensor ? 0 : r * stored_groups + g;
      c.scales[r * c.groups() + g] = formats::get_f16(pk.scales, i);
      c.zeros[r * c.groups() + g] = spec.symmetric ? static_cast<uint8_t>(zero) : pk.zeros.at(static_cast<size_t>(i));
    }
    const uint8_t* row = L.row(pk.codes, r);
    for (int64_t col = 0; col < c.cols; ++col) {
      int v = L.get(row, col);
      if (spec.symmetric) {  // sign-extend the container, then offset
        if (v >= (1 << (L.container_bits - 1))) v -= 1 << L.container_bits;
        v += zero;
      }
      c.codes[r * c.cols + col] = static_cast<uint8_t>(v);
    }
  }
}

IntCodes int_codes(const model::QuantizedLinear& q, const std::string& name) {
  const formats::QuantSpec& spec = q.spec();
  HESSQ_CHECK(spec.format == formats::Format::Int, "{}: weight format {} is not INT", name, spec.name());
  HESSQ_CHECK(spec.granularity != Granularity::PerToken, "{}: per-token INT is an activation format", name);
  HESSQ_CHECK(q.layout() == model::WeightLayout::IntBlocks || q.packed().scale_dtype == "F16",
              "{}: INT scales stored as {}, expected F16", name, q.packed().scale_dtype);
  IntCodes c;
  c.bits = spec.bits;
  c.symmetric = spec.symmetric;
  c.rows = q.out_features();
  c.cols = q.in_features();
  c.group = spec.granularity == Granularity::PerGroup ? spec.group : c.cols;
  c.codes.assign(static_cast<size_t>(c.rows * c.cols), 0);
  c.scales.assign(static_cast<size_t>(c.rows * c.groups()), 0.0f);
  c.zeros.assign(static_cast<size_t>(c.rows * c.groups()), 0);
  if (q.layout() == model::WeightLayout::IntBlocks) from_blocks(q, c);
  else from_planar(q, c);
  return c;
}

}  // namespace hessq::exporting
