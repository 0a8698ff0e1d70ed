#include "hessq/formats/group_quant.hpp"

#include <algorithm>
#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/formats/fp4.hpp"
#include "hessq/formats/fp8.hpp"
#include "hessq/formats/int_quant.hpp"
#include "hessq/formats/packing.hpp"

namespace hessq::formats {
namespace {

float group_amax(const float* x, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax;
}

// One codec per element type: params() chooses a group's scale/zero for a clip ratio, encode/decode
// map a value to its container code and back, qd = decode(encode(x)) without the code.
struct IntCodec {
  int bits;
  bool symmetric;
  int container_bits() const { return bits <= 4 ? 4 : 8; }
  const char* scale_dtype() const { return "F16"; }
  bool f16_scale() const { return true; }
  bool has_zero() const { return !symmetric; }
  IntParams params(const float* x, int64_t n, float ratio) const { return int_params(x, n, bits, symmetric, ratio); }
  float qd(float x, const IntParams& p) const { return int_dequantize(int_quantize(x, p, bits, symmetric), p); }
  uint8_t encode(float x, const IntParams& p) const {
    const int q = static_cast<int>(int_quantize(x, p, bits, symmetric));
    return static_cast<uint8_t>(q & ((1 << container_bits()) - 1));  // two's complement in the container
  }
  float decode(uint8_t c, const IntParams& p) const {
    const int cb = container_bits();
    const int q = (symmetric && c >= (1 << (cb - 1))) ? c - (1 << cb) : c;
    return int_dequantize(static_cast<float>(q), p);
  }
};

struct Fp4Codec {
  int container_bits() const { return 4; }
  const char* scale_dtype() const { return "F16"; }
  bool f16_scale() const { return true; }
  bool has_zero() const { return false; }
  IntParams params(const float* x, int64_t n, float ratio) const {
    const float amax = group_amax(x, n) * ratio;
    return {round_scale_f16(amax / kE2M1Max, amax), 0.0f};
  }
  uint8_t encode(float x, const IntParams& p) const { return e2m1_encode(x / p.scale); }
  float decode(uint8_t c, const IntParams& p) const { return e2m1_decode(c) * p.scale; }
  float qd(float x, const IntParams& p) const { return decode(encode(x, p), p); }
};

struct Fp8Codec {
  bool e5m2;
  float max() const { return e5m2 ? kE5M2Max : kE4M3Max; }
  int container_bits() const { return 8; }
  const char* scale_dtype() const { return "F32"; }
  bool f16_scale() const { return false; }
  bool has_zero() const { return false; }
  IntParams params(const float* x, int64_t n, float ratio) const {
    const float amax = group_amax(x, n) * ratio;
    return {amax > 0.0f ? amax / max() : 1.0f, 0.0f};
  }
  uint8_t encode(float x, const IntParams& p) const { return e5m2 ? e5m2_encode(x / p.scale) : e4m3_encode(x / p.scale); }
  float decode(uint8_t c, const IntParams& p) const { return (e5m2 ? e5m2_decode(c) : e4m3_decode(c)) * p.scale; }
  float qd(float x, const IntParams& p) const { return decode(encode(x, p), p); }
};

template <class Fn>
decltype(auto) with_codec(const QuantSpec& spec, Fn&& fn) {
  switch (spec.format) {
    case Format::Int: return fn(IntCodec{spec.bits, spec.symmetric});
    case Format::Fp4E2M1: return fn(Fp4Codec{});
    case Format::Fp8E4M3: return fn(Fp8Codec{false});
    case Format::Fp8E5M2: return fn(Fp8Codec{true});
    default: HESSQ_FAIL("{} is not a group-scaled format", spec.name());
  }
}

template <class C>
IntParams choose_params(const C& codec, const float* x, int64_t n, bool clip_search) {
  IntParams best = codec.params(x, n, 1.0f);
  if (!clip_search) return best;
  auto sq_err = [&](const IntParams& p) {
    double e = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(codec.qd(x[i], p)) - x[i];
      e += d * d;
    }
    return e;
  };
  double best_err = sq_err(best);
  for (int k = 1; k < kClipGridPoints; ++k) {
    const IntParams p = codec.params(x, n, clip_grid_ratio(k));
    const double e = sq_err(p);
    if (e < best_err) best_err = e, best = p;
  }
  return best;
}

int64_t group_len(const QuantSpec& spec, int64_t cols) { return spec.granularity == Granularity::PerGroup ? spec.group : cols; }

void check_dims(const QuantSpec& spec, int64_t rows, int64_t cols) {
  HESSQ_CHECK(rows >= 0 && cols >= 0, "{}: bad matrix shape [{}, {}]", spec.name(), rows, cols);
  HESSQ_CHECK(spec.granularity != Granularity::PerGroup || cols % spec.group == 0,
              "{}: matrix [{}, {}] has cols = {}, not a multiple of the group size {}", spec.name(), rows, cols, cols,
              spec.group);
}

// Visits every scale group: sink.params(group index, p), then sink.values(row, first col, n, x, p).
// Rows run in parallel; groups never straddle rows except per tensor, whose params come first.
template <class C, class Sink>
void run_groups(const QuantSpec& spec, const C& codec, const float* x, int64_t rows, int64_t cols, Sink& sink) {
  if (rows == 0 || cols == 0) return;
  if (spec.granularity == Granularity::PerTensor) {
    const IntParams p = choose_params(codec, x, rows * cols, spec.clip_search);
    sink.params(0, p);
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
    for (int64_t r = 0; r < rows; ++r) sink.values(r, 0, cols, x + r * cols, p);
    return;
  }
  const int64_t len = group_len(spec, cols), per_row = cols / len;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < per_row; ++j) {
      const float* xg = x + r * cols + j * len;
      const IntParams p = choose_params(codec, xg, len, spec.clip_search);
      sink.params(r * per_row + j, p);
      sink.values(r, j * len, len, xg, p);
    }
  }
}

template <class C>
struct FakeSink {
  const C& codec;
  float* out;
  int64_t cols;
  void params(int64_t, const IntParams&) {}
  void values(int64_t r, int64_t c0, int64_t n, const float* xg, const IntParams& p) {
    float* o = out + r * cols + c0;
    for (int64_t i = 0; i < n; ++i) o[i] = codec.qd(xg[i], p);
  }
};

template <class C>
void store_params(const C& codec, Packed& pk, int64_t i, const IntParams& p) {
  if (codec.f16_scale()) put_f16(pk.scales, i, p.scale);
  else put_f32(pk.scales, i, p.scale);
  if (codec.has_zero()) pk.zeros[i] = static_cast<uint8_t>(p.zero);
}

template <class C>
IntParams load_params(const C& codec, const Packed& pk, int64_t i) {
  IntParams p;
  p.scale = codec.f16_scale() ? get_f16(pk.scales, i) : get_f32(pk.scales, i);
  if (codec.has_zero()) p.zero = pk.zeros[i];
  return p;
}

template <class C>
struct PackSink {
  const C& codec;
  Packed& pk;
  CodeLayout L;
  void params(int64_t i, const IntParams& p) { store_params(codec, pk, i, p); }
  void values(int64_t r, int64_t c0, int64_t n, const float* xg, const IntParams& p) {
    uint8_t* row = L.row(pk.codes, r);
    for (int64_t i = 0; i < n; ++i) L.put(row, c0 + i, codec.encode(xg[i], p));
  }
};

template <class C>
Packed make_group_packed(const QuantSpec& spec, const C& codec, int64_t rows, int64_t cols) {
  const CodeLayout L{codec.container_bits(), cols};
  const int64_t ns = group_num_scales(spec, rows, cols);
  Packed pk = make_packed(L, rows, ns, codec.scale_dtype());
  if (codec.has_zero()) pk.zeros.assign(static_cast<size_t>(ns), 0);
  return pk;
}

}  // namespace

int64_t group_num_scales(const QuantSpec& spec, int64_t rows, int64_t cols) {
  if (spec.granularity == Granularity::PerTensor) return 1;
  if (spec.granularity == Granularity::PerGroup) return rows * (cols / spec.group);
  return rows;
}

IntParams group_params(const QuantSpec& spec, const float* x, int64_t n) {
  validate(spec);
  return with_codec(spec, [&](const auto& codec) { return choose_params(codec, x, n, spec.clip_search); });
}

float group_quant_dequant(const QuantSpec& spec, float x, const IntParams& p) {
  return with_codec(spec, [&](const auto& codec) { return codec.qd(x, p); });
}

void group_fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out) {
  check_dims(spec, rows, cols);
  with_codec(spec, [&](const auto& codec) {
    FakeSink<std::decay_t<decltype(codec)>> sink{codec, out, cols};
    run_groups(spec, codec, x, rows, cols, sink);
  });
}

Packed group_pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols) {
  check_dims(spec, rows, cols);
  return with_codec(spec, [&](const auto& codec) {
    Packed pk = make_group_packed(spec, codec, rows, cols);
    PackSink<std::decay_t<decltype(codec)>> sink{codec, pk, CodeLayout{codec.container_bits(), cols}};
    run_groups(spec, codec, x, rows, cols, sink);
    return pk;
  });
}

void group_unpack(const QuantSpec& spec, const Packed& pk, int64_t rows, int64_t cols, float* out) {
  check_dims(spec, rows, cols);
  with_codec(spec, [&](const auto& codec) {
    const CodeLayout L{codec.container_bits(), cols};
    const int64_t ns = group_num_scales(spec, rows, cols);
    check_packed(spec, pk, L, rows, ns, codec.scale_dtype(), codec.has_zero() ? ns : 0);
    if (rows == 0 || cols == 0) return;
    const int64_t len = spec.granularity == Granularity::PerTensor ? cols : group_len(spec, cols);
    const int64_t per_row = cols / len;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* row = L.row(pk.codes, r);
      for (int64_t j = 0; j < per_row; ++j) {
        const IntParams p = load_params(codec, pk, spec.granularity == Granularity::PerTensor ? 0 : r * per_row + j);
        for (int64_t c = j * len; c < (j + 1) * len; ++c) out[r * cols + c] = codec.decode(L.get(row, c), p);
      }
    }
  });
}

Packed group_pack_params(const QuantSpec& spec, const float* w_q, int64_t rows, int64_t cols,
                         const std::vector<IntParams>& params) {
  check_dims(spec, rows, cols);
  const int64_t ns = group_num_scales(spec, rows, cols);
  const int64_t np = static_cast<int64_t>(params.size());
  const bool tensor_rows = spec.granularity == Granularity::PerTensor && np == rows && rows > 1;
  HESSQ_CHECK(np == ns || tensor_rows, "pack_int {} [{}, {}]: {} params, expected {}", spec.name(), rows, cols, np, ns);
  return with_codec(spec, [&](const auto& codec) {
    Packed pk = make_group_packed(spec, codec, rows, cols);
    const CodeLayout L{codec.container_bits(), cols};
    const int64_t len = spec.granularity == Granularity::PerTensor ? cols : group_len(spec, cols);
    const int64_t per_row = cols / len;
    for (int64_t i = 0; i < np; ++i) {
      const IntParams& p = params[i];
      const IntParams& p0 = tensor_rows ? params[0] : p;
      HESSQ_CHECK(p.scale == p0.scale && p.zero == p0.zero, "pack_int {}: per-tensor params differ between rows 0 and {}",
                  spec.name(), i);
            HESSQ_CHECK(p.scale > 0.0f && (!codec.f16_scale() || f16_to_f32(f32_to_f16(p.scale)) == p.scale),
                  "pack_int {}: group {} scale {} is not a positive {} value", spec.name(), i, p.scale, codec.scale_dtype());
      HESSQ_CHECK(p.zero >= 0.0f && p.zero <= 255.0f && p.zero == std::nearbyint(p.zero) && (codec.has_zero() || p.zero == 0.0f),
                  "pack_int {}: group {} zero point {} is not a valid code", spec.name(), i, p.zero);
    }
    for (int64_t i = 0; i < ns; ++i) store_params(codec, pk, i, params[i]);
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* row = L.row(pk.codes, r);
      for (int64_t j = 0; j < per_row; ++j) {
        const IntParams& p = params[spec.granularity == Granularity::PerTensor ? 0 : r * per_row + j];
        for (int64_t c = j * len; c < (j + 1) * len; ++c) {
          const float v = w_q[r * cols + c];
          const uint8_t code = codec.encode(v, p);
          HESSQ_CHECK(codec.decode(code, p) == v,
                      "pack_int {}: value {} at [{}, {}] is not on its group's grid (scale {}, zero {})", spec.name(),
                      v, r, c, p.scale, p.zero);
          L.put(row, c, code);
        }
      }
    }
    return pk;
  });
}

}  // namespace hessq::formats
