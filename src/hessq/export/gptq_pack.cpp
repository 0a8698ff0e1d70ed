#include "hessq/export/gptq_pack.hpp"

#include <bit>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"

namespace hessq::exporting {

std::vector<uint32_t> gptq_pack_bits(std::span<const uint32_t> codes, int bits) {
  const size_t total_bits = codes.size() * static_cast<size_t>(bits);
  HESSQ_CHECK(total_bits % 32 == 0, "gptq_pack_bits: {} codes of {} bits do not fill whole 32-bit words", codes.size(),
              bits);
  std::vector<uint32_t> words(total_bits / 32, 0);
  for (size_t k = 0; k < codes.size(); ++k) {
    const size_t bit = k * static_cast<size_t>(bits);
    const uint64_t v = static_cast<uint64_t>(codes[k]) << (bit % 32);  // may straddle two words
    words[bit / 32] |= static_cast<uint32_t>(v);
    if ((v >> 32) != 0) words[bit / 32 + 1] |= static_cast<uint32_t>(v >> 32);
  }
  return words;
}

void check_gptq_shape(int bits, int64_t rows, int64_t cols, const std::string& name) {
  HESSQ_CHECK(bits == 2 || bits == 3 || bits == 4 || bits == 8,
              "{}: INT{} weights: the GPTQ format has 2, 3, 4 and 8 bits only", name, bits);
  HESSQ_CHECK(cols % 32 == 0 && rows % 32 == 0,
              "{}: shape [{}, {}]: GPTQ loaders pack 32 codes into {} words along both dimensions, so the input and "
              "output sizes must be multiples of 32",
              name, rows, cols, bits);
}

static void check_gptq_zeros(const IntCodes& c, const std::string& name) {
  for (size_t k = 0; k < c.zeros.size(); ++k)
    HESSQ_CHECK(c.zeros[k] != 0,
                "{}: row {}, group {} has zero point 0 (all its values >= 0), which checkpoint_format \"gptq\" stores "
                "as -1 and its readers cannot decode (see export/gptq_pack.hpp); quantize symmetrically (--sym) to "
                "export this model",
                name, static_cast<int64_t>(k) / c.groups(), static_cast<int64_t>(k) % c.groups());
}

GptqTensors gptq_tensors(const IntCodes& c, std::span<const int64_t> row_order, const std::string& name) {
  check_gptq_shape(c.bits, c.rows, c.cols, name);
  check_gptq_zeros(c, name);
  HESSQ_CHECK(row_order.empty() || static_cast<int64_t>(row_order.size()) == c.rows,
              "{}: row order of {} entries for {} rows", name, row_order.size(), c.rows);
  const int b = c.bits;
  const int64_t m = c.rows, n = c.cols, G = c.groups();
  auto src = [&](int64_t j) { return row_order.empty() ? j : row_order[static_cast<size_t>(j)]; };
  GptqTensors t;
  t.qweight_shape = {n * b / 32, m};
  t.qzeros_shape = {G, m * b / 32};
  t.scales_shape = {G, m};
  t.g_idx_shape = {n};
  t.qweight.assign(static_cast<size_t>(n * b / 32 * m), 0);
  std::vector<uint32_t> col(static_cast<size_t>(n));
  for (int64_t j = 0; j < m; ++j) {  // output channel j: its n codes, packed down column j
    const uint8_t* u = c.codes.data() + src(j) * n;
    for (int64_t i = 0; i < n; ++i) col[i] = u[i];
    const std::vector<uint32_t> w = gptq_pack_bits(col, b);
    for (size_t r = 0; r < w.size(); ++r) t.qweight[r * m + j] = std::bit_cast<int32_t>(w[r]);
  }
  t.scales.resize(static_cast<size_t>(G * m));
  t.qzeros.reserve(static_cast<size_t>(G * m * b / 32));
  std::vector<uint32_t> zrow(static_cast<size_t>(m));
  const uint32_t mask = (1u << b) - 1;
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t j = 0; j < m; ++j) {
      const int64_t k = src(j) * G + g;
      t.scales[g * m + j] = f32_to_f16(c.scales[k]);  // exact: the scales are F16 values
      zrow[j] = (static_cast<uint32_t>(c.zeros[k]) - 1u) & mask;  // z >= 1 (checked)
    }
    for (uint32_t w : gptq_pack_bits(zrow, b)) t.qzeros.push_back(std::bit_cast<int32_t>(w));
  }
  t.g_idx.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t.g_idx[i] = static_cast<int32_t>(i / c.group);
  return t;
}

}  // namespace hessq::exporting
