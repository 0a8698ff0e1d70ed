#include "hessq/export/nvfp4_ct.hpp"

#include <algorithm>

#include "hessq/core/error.hpp"
#include "hessq/formats/nvfp4.hpp"

namespace hessq::exporting {

using formats::Granularity;

void check_ct_nvfp4_expressible(const model::QuantizedLinear& q, const std::string& name) {
  const formats::QuantSpec& s = q.spec();
  HESSQ_CHECK(s.format == formats::Format::NvFp4, "{}: weight format {} is not NVFP4; compressed-tensors export writes "
              "NVFP4 weights (nvfp4, nvfp4-2d) only", name, s.name());
  HESSQ_CHECK(!s.nvfp4_ref,
              "{}: weight format {} (reference mode) has F32 block scales from e4m3_sim and no global scale: they are "
              "not E4M3 bytes, so compressed-tensors' weight_scale cannot hold them",
              name, s.name());
  HESSQ_CHECK(q.in_features() % formats::kNvfp4Block == 0,
              "{}: {} inputs are not a multiple of 16: compressed-tensors requires the NVFP4 group size (16) to divide "
              "the input size",
              name, q.in_features());
  HESSQ_CHECK(q.packed().scale_dtype == "F8_E4M3", "{}: NVFP4 scales stored as {}, expected F8_E4M3", name,
              q.packed().scale_dtype);
  HESSQ_CHECK(q.packed().global_scale > 0, "{}: NVFP4 global scale {} is not positive", name,
              q.packed().global_scale);
}

Nvfp4CtTensors ct_nvfp4_tensors(const model::QuantizedLinear& q, std::span<const int64_t> row_order,
                                const std::string& name) {
  check_ct_nvfp4_expressible(q, name);
  const int64_t m = q.out_features(), n = q.in_features(), nb = n / formats::kNvfp4Block;
  HESSQ_CHECK(row_order.empty() || static_cast<int64_t>(row_order.size()) == m, "{}: row order of {} entries for {} rows",
              name, row_order.size(), m);
  const formats::Packed& pk = q.packed();
  const bool tiles = q.spec().granularity == Granularity::Tile2D;
  Nvfp4CtTensors t;
  t.packed_shape = {m, n / 2};
  t.scale_shape = {m, nb};
  t.weight_packed.resize(static_cast<size_t>(m * n / 2));
  t.weight_scale.resize(static_cast<size_t>(m * nb));
  for (int64_t j = 0; j < m; ++j) {
    const int64_t r = row_order.empty() ? j : row_order[static_cast<size_t>(j)];
    // Codes: row r starts at r * ceil(n / 2) = r * n / 2 (formats::Packed), same nibble order.
    std::copy_n(pk.codes.data() + r * n / 2, n / 2, t.weight_packed.data() + j * n / 2);
    // Scales: [m, nb] for 1 x 16 blocks, [ceil(m / 16), nb] for tiles (row r uses tile row r / 16).
    const int64_t srow = tiles ? r / formats::kNvfp4Block : r;
    std::copy_n(pk.scales.data() + srow * nb, nb, t.weight_scale.data() + j * nb);
  }
  t.weight_global_scale = 1.0f / pk.global_scale;
  return t;
}

}  // namespace hessq::exporting
