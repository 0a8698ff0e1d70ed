#include "hessq/formats/mx.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "hessq/core/error.hpp"
#include "hessq/formats/fp4.hpp"
#include "hessq/formats/fp8.hpp"
#include "hessq/formats/packing.hpp"

namespace hessq::formats {
namespace {

struct ElementCodec {
  bool fp8;  // E4M3 elements (MXFP8), else E2M1 (MXFP4)
  int emax() const { return fp8 ? 8 : 2; }
  int container_bits() const { return fp8 ? 8 : 4; }
  uint8_t encode(float v) const { return fp8 ? e4m3_encode(v) : e2m1_encode(v); }
  float decode(uint8_t c) const { return fp8 ? e4m3_decode(c) : e2m1_decode(c); }
};

// Visits every block: sink.scale(block index, byte), then sink.value(row, col, code, x^). Rows in parallel.
template <class Sink>
void run_blocks(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, Sink& sink) {
  const ElementCodec ec{spec.format == Format::MxFp8};
  const int64_t B = kMxBlock, nb = ceil_div(cols, B);
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (int64_t jb = 0; jb < nb; ++jb) {
      const int64_t c0 = jb * B, c1 = std::min(c0 + B, cols);
      float amax = 0.0f;
      for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(xr[c]));
      const uint8_t byte = mx_scale_byte(amax, ec.emax());  // step 1
      sink.scale(r * nb + jb, byte);
      const float scale = mx_scale_value(byte);
      const float inv = std::ldexp(1.0f, 127 - byte);  // 1 / scale, exact: 2^-127 .. 2^127
      for (int64_t c = c0; c < c1; ++c) {
        const uint8_t code = ec.encode(xr[c] * inv);  // step 2
        sink.value(r, c, code, ec.decode(code) * scale);  // step 3
      }
    }
  }
}

struct FakeSink {
  float* out;
  int64_t cols;
  void scale(int64_t, uint8_t) {}
  void value(int64_t r, int64_t c, uint8_t, float v) { out[r * cols + c] = v; }
};

struct PackSink {
  Packed& pk;
  CodeLayout L;
  void scale(int64_t i, uint8_t byte) { pk.scales[i] = byte; }
  void value(int64_t r, int64_t c, uint8_t code, float) { L.put(L.row(pk.codes, r), c, code); }
};

void check_spec(const QuantSpec& spec, int64_t rows, int64_t cols) {
  HESSQ_CHECK(spec.format == Format::MxFp4 || spec.format == Format::MxFp8, "{} is not an MX format", spec.name());
  HESSQ_CHECK(rows >= 0 && cols >= 0, "{}: bad matrix shape [{}, {}]", spec.name(), rows, cols);
}

}  // namespace

uint8_t mx_scale_byte(float amax, int emax_elem) {
  const int e = amax > 0.0f ? std::ilogb(amax) - emax_elem : -127;  // ilogb = floor(log2), exact
  return static_cast<uint8_t>(std::clamp(e, -127, 127) + 127);
}

float mx_scale_value(uint8_t b) {
  return b == 255 ? std::numeric_limits<float>::quiet_NaN() : std::ldexp(1.0f, static_cast<int>(b) - 127);
}

int64_t mx_num_scales(const QuantSpec&, int64_t rows, int64_t cols) { return rows * ceil_div(cols, kMxBlock); }

void mx_fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out) {
  check_spec(spec, rows, cols);
  FakeSink sink{out, cols};
  run_blocks(spec, x, rows, cols, sink);
}

Packed mx_pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols) {
  check_spec(spec, rows, cols);
  const CodeLayout L{spec.format == Format::MxFp8 ? 8 : 4, cols};
  Packed pk = make_packed(L, rows, mx_num_scales(spec, rows, cols), "E8M0");
  PackSink sink{pk, L};
  run_blocks(spec, x, rows, cols, sink);
  return pk;
}

void mx_unpack(const QuantSpec& spec, const Packed& pk, int64_t rows, int64_t cols, float* out) {
  check_spec(spec, rows, cols);
  const ElementCodec ec{spec.format == Format::MxFp8};
  const CodeLayout L{ec.container_bits(), cols};
  check_packed(spec, pk, L, rows, mx_num_scales(spec, rows, cols), "E8M0", 0);
  const int64_t B = kMxBlock, nb = ceil_div(cols, B);
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = L.row(pk.codes, r);
    for (int64_t jb = 0; jb < nb; ++jb) {
      const float scale = mx_scale_value(pk.scales[r * nb + jb]);
      for (int64_t c = jb * B; c < std::min((jb + 1) * B, cols); ++c) out[r * cols + c] = ec.decode(L.get(row, c)) * scale;
    }
  }
}

}  // namespace hessq::formats
