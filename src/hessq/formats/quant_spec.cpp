// QuantSpec validation, storage cost and dispatch: one traits row per format (element bits, scale
// storage bits, the fake_quant/pack/unpack implementations). Names are in spec_names.cpp.
#include "hessq/formats/quant_spec.hpp"

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_format.hpp"
#include "hessq/formats/ggml_types.hpp"
#include "hessq/formats/group_quant.hpp"
#include "hessq/formats/mx.hpp"
#include "hessq/formats/nvfp4.hpp"

namespace hessq::formats {
namespace {

struct FormatTraits {
  Format format;
  int element_bits;  // 0: spec.bits (INT)
  int scale_bits;    // nominal storage of one scale (bits_per_element)
  int64_t (*num_scales)(const QuantSpec&, int64_t, int64_t);
  void (*fake_quant)(const QuantSpec&, const float*, int64_t, int64_t, float*);
  Packed (*pack)(const QuantSpec&, const float*, int64_t, int64_t);
  void (*unpack)(const QuantSpec&, const Packed&, int64_t, int64_t, float*);
};

constexpr FormatTraits kTraits[] = {
    {Format::Int, 0, 16, group_num_scales, group_fake_quant, group_pack, group_unpack},
    {Format::Fp8E4M3, 8, 32, group_num_scales, group_fake_quant, group_pack, group_unpack},
    {Format::Fp8E5M2, 8, 32, group_num_scales, group_fake_quant, group_pack, group_unpack},
    {Format::Fp4E2M1, 4, 16, group_num_scales, group_fake_quant, group_pack, group_unpack},
    {Format::NvFp4, 4, 8, nvfp4_num_scales, nvfp4_fake_quant, nvfp4_pack, nvfp4_unpack},
    {Format::MxFp4, 4, 8, mx_num_scales, mx_fake_quant, mx_pack, mx_unpack},
    {Format::MxFp8, 8, 8, mx_num_scales, mx_fake_quant, mx_pack, mx_unpack},
    {Format::Ggml, 0, 0, ggml_num_scales, ggml_fake_quant, ggml_pack, ggml_unpack},
};

const FormatTraits& traits(Format f) {
  for (const FormatTraits& t : kTraits)
    if (t.format == f) return t;
  HESSQ_FAIL("unknown numeric format id {}", static_cast<int>(f));
}

bool is_group_scaled(Format f) { return f == Format::Int || f == Format::Fp4E2M1 || f == Format::Fp8E4M3 || f == Format::Fp8E5M2; }

}  // namespace

void validate(const QuantSpec& s) {
  const Format f = s.format;
  traits(f);  // known format
  HESSQ_CHECK(f != Format::Int || (s.bits >= 2 && s.bits <= 8), "quant spec: INT bits = {}, expected 2..8", s.bits);
  HESSQ_CHECK(f == Format::Int || s.symmetric, "quant spec: only INT formats can be asymmetric");
  HESSQ_CHECK(!s.clip_search || f == Format::Int || f == Format::Fp4E2M1, "quant spec: clip search needs an INT or FP4 format");
  HESSQ_CHECK(!s.nvfp4_ref || f == Format::NvFp4, "quant spec: nvfp4_ref set on a non-NVFP4 format");
  if (f == Format::Ggml) {
    HESSQ_CHECK(ggml_has_block_codec(s.ggml_type), "quant spec: ggml type {} is not one hessq quantizes",
                ggml_type_name(s.ggml_type));
    HESSQ_CHECK(s.granularity == Granularity::PerGroup && s.group == static_cast<int>(ggml_block_size(s.ggml_type)),
                "quant spec: ggml {} works on blocks of {}", ggml_type_name(s.ggml_type), ggml_block_size(s.ggml_type));
  } else if (is_group_scaled(f)) {
    HESSQ_CHECK(s.granularity != Granularity::Tile2D, "quant spec: 16x16 tiles are an NVFP4 granularity");
    HESSQ_CHECK(s.granularity != Granularity::PerGroup || s.group >= 1, "quant spec: per-group with group = {}", s.group);
  } else if (f == Format::NvFp4) {
    HESSQ_CHECK(s.granularity == Granularity::PerGroup || s.granularity == Granularity::Tile2D,
                "quant spec: NVFP4 uses 1x16 blocks (PerGroup) or 16x16 tiles (Tile2D)");
    HESSQ_CHECK(s.group == 0 || s.group == kNvfp4Block, "quant spec: NVFP4 block size is 16, not {}", s.group);
  } else {
    HESSQ_CHECK(s.granularity == Granularity::PerGroup, "quant spec: MX formats use blocks of 32 (PerGroup)");
    HESSQ_CHECK(s.group == 0 || s.group == kMxBlock, "quant spec: MX block size is 32, not {}", s.group);
  }
}

int QuantSpec::element_bits() const {
  const int b = traits(format).element_bits;
  return b == 0 ? bits : b;
}

int64_t num_scales(const QuantSpec& spec, int64_t rows, int64_t cols) {
  validate(spec);
  return traits(spec.format).num_scales(spec, rows, cols);
}

double QuantSpec::bits_per_element(int64_t rows, int64_t cols) const {
  const double n = static_cast<double>(rows) * static_cast<double>(cols);
  if (format == Format::Ggml) return 8.0 * *ggml_nbytes(ggml_type, group) / group;  // everything is in the blocks
  if (n <= 0) return element_bits();
  const FormatTraits& t = traits(format);
  double side = static_cast<double>(num_scales(*this, rows, cols)) * t.scale_bits;
  if (format == Format::Int && !symmetric) side += static_cast<double>(num_scales(*this, rows, cols)) * 8;  // zeros
  if (format == Format::NvFp4 && !nvfp4_ref) side += 32;                                                     // global
  return element_bits() + side / n;
}

QuantSpec activation_spec(const QuantSpec& w) {
  QuantSpec a = w;
  if (a.granularity == Granularity::PerChannel) a.granularity = Granularity::PerToken;
  if (a.granularity == Granularity::Tile2D) a.granularity = Granularity::PerGroup;
  return a;
}

void fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out) {
  validate(spec);
  traits(spec.format).fake_quant(spec, x, rows, cols, out);
}

Packed pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols) {
  validate(spec);
  return traits(spec.format).pack(spec, x, rows, cols);
}

void unpack(const QuantSpec& spec, const Packed& p, int64_t rows, int64_t cols, float* out) {
  validate(spec);
  traits(spec.format).unpack(spec, p, rows, cols, out);
}

Packed pack_int(const QuantSpec& spec, const float* w_q, int64_t rows, int64_t cols, const std::vector<IntParams>& params) {
  validate(spec);
  HESSQ_CHECK(is_group_scaled(spec.format), "pack_int: {} is not an INT/FP4/FP8 group-scaled format", spec.name());
  return group_pack_params(spec, w_q, rows, cols, params);
}

}  // namespace hessq::formats
