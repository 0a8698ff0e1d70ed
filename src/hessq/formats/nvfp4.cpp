#include "hessq/formats/nvfp4.hpp"

#include <algorithm>
#include <cmath>

#include "hessq/core/error.hpp"
#include "hessq/formats/fp4.hpp"
#include "hessq/formats/fp8.hpp"
#include "hessq/formats/packing.hpp"

namespace hessq::formats {
namespace {

constexpr float kGlobalDivisor = kE2M1Max * kE4M3Max;  // 6 * 448

struct BlockScale {
  uint8_t code;  // E4M3 byte (standard mode)
  float value;   // s_b
  float d;       // divisor d_b = s_b * g
};

// Step 1: g from the tensor amax (max is exact, so the parallel reduction is thread-count independent).
float global_scale(const float* x, int64_t n) {
  float amax = 0.0f;
#pragma omp parallel for reduction(max : amax) schedule(static) if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax > 0.0f ? amax / kGlobalDivisor : 1.0f;
}

// Step 2.
BlockScale block_scale(bool ref, float amax, float g) {
  if (ref) {
    const float s = e4m3_sim(amax / kE2M1Max);
    return {0, s, s};
  }
  const uint8_t code = e4m3_encode(amax / kE2M1Max / g);
  const float s = e4m3_decode(code);
  return {code, s, s * g};
}

// Step 3.
inline uint8_t element_code(float x, float d) { return d == 0.0f ? 0 : e2m1_encode(x / d); }
// (code * s_b) is exact (2 + 4 significant bits), so x^ takes a single rounding, in the product with g.
inline float element_value(uint8_t code, float s, float g) { return e2m1_decode(code) * s * g; }

// Visits every block: sink.scale(block index, BlockScale), then sink.value(index, code, x^) for its
// elements. Rows (1x16) or 16-row strips (tiles) run in parallel.
template <class Sink>
void run_blocks(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, Sink& sink) {
  if (rows == 0 || cols == 0) return;
  const bool ref = spec.nvfp4_ref;
  const float g = ref ? 1.0f : global_scale(x, rows * cols);
  sink.global(g);
  const int64_t B = kNvfp4Block, nb = ceil_div(cols, B);
  const int64_t strip = spec.granularity == Granularity::Tile2D ? B : 1;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
  for (int64_t rb = 0; rb < ceil_div(rows, strip); ++rb) {
    const int64_t r0 = rb * strip, r1 = std::min(r0 + strip, rows);
    for (int64_t jb = 0; jb < nb; ++jb) {
      const int64_t c0 = jb * B, c1 = std::min(c0 + B, cols);
      float amax = 0.0f;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(x[r * cols + c]));
      const BlockScale bs = block_scale(ref, amax, g);
      sink.scale(rb * nb + jb, bs);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) {
          const uint8_t code = element_code(x[r * cols + c], bs.d);
          sink.value(r, c, code, element_value(code, bs.value, g));
        }
    }
  }
}

struct FakeSink {
  float* out;
  int64_t cols;
  void global(float) {}
  void scale(int64_t, const BlockScale&) {}
  void value(int64_t r, int64_t c, uint8_t, float v) { out[r * cols + c] = v; }
};

struct PackSink {
  Packed& pk;
  CodeLayout L;
  bool ref;
  void global(float g) { pk.global_scale = g; }
  void scale(int64_t i, const BlockScale& bs) {
    if (ref) put_f32(pk.scales, i, bs.value);
    else pk.scales[i] = bs.code;
  }
  void value(int64_t r, int64_t c, uint8_t code, float) { L.put(L.row(pk.codes, r), c, code); }
};

void check_spec(const QuantSpec& spec, int64_t rows, int64_t cols) {
  HESSQ_CHECK(spec.format == Format::NvFp4, "{} is not an NVFP4 format", spec.name());
  HESSQ_CHECK(rows >= 0 && cols >= 0, "{}: bad matrix shape [{}, {}]", spec.name(), rows, cols);
}

}  // namespace

float e4m3_sim(float v) {
  if (!(v > 0.0f) || !std::isfinite(v)) return v;
  const int e = std::ilogb(v);  // floor(log2 v), exact
  return std::ldexp(std::nearbyint(std::ldexp(v, 3 - e)), e - 3);
}

int64_t nvfp4_num_scales(const QuantSpec& spec, int64_t rows, int64_t cols) {
  const int64_t nb = ceil_div(cols, kNvfp4Block);
  return spec.granularity == Granularity::Tile2D ? ceil_div(rows, kNvfp4Block) * nb : rows * nb;
}

void nvfp4_fake_quant(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols, float* out) {
  check_spec(spec, rows, cols);
  FakeSink sink{out, cols};
  run_blocks(spec, x, rows, cols, sink);
}

Packed nvfp4_pack(const QuantSpec& spec, const float* x, int64_t rows, int64_t cols) {
  check_spec(spec, rows, cols);
  const CodeLayout L{4, cols};
  Packed pk = make_packed(L, rows, nvfp4_num_scales(spec, rows, cols), spec.nvfp4_ref ? "F32" : "F8_E4M3");
  PackSink sink{pk, L, spec.nvfp4_ref};
  run_blocks(spec, x, rows, cols, sink);
  return pk;
}

float nvfp4_global_scale(const float* x, int64_t n) { return global_scale(x, n); }

uint8_t nvfp4_block_scale_code(float amax_block, float g) { return block_scale(false, amax_block, g).code; }

float nvfp4_quant_dequant(float x, float s, float g) { return element_value(element_code(x, s * g), s, g); }

Packed nvfp4_pack_on_grid(const QuantSpec& spec, const float* xq, int64_t rows, int64_t cols, float g,
                          const std::vector<uint8_t>& block_codes) {
  check_spec(spec, rows, cols);
  HESSQ_CHECK(!spec.nvfp4_ref && spec.granularity != Granularity::Tile2D,
              "{}: packing on a given grid supports NVFP4 1x16 blocks in the standard mode", spec.name());
  const int64_t nb = ceil_div(cols, kNvfp4Block);
  HESSQ_CHECK(static_cast<int64_t>(block_codes.size()) == rows * nb, "{}: {} block scales for [{}, {}], expected {}",
              spec.name(), block_codes.size(), rows, cols, rows * nb);
  const CodeLayout L{4, cols};
  Packed pk = make_packed(L, rows, rows * nb, "F8_E4M3");
  pk.global_scale = g;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t jb = 0; jb < nb; ++jb) {
      const uint8_t sc = block_codes[r * nb + jb];
      pk.scales[r * nb + jb] = sc;
      const float s = e4m3_decode(sc);
      for (int64_t c = jb * kNvfp4Block; c < std::min((jb + 1) * kNvfp4Block, cols); ++c) {
        const float x = xq[r * cols + c];
        const uint8_t code = element_code(x, s * g);
        HESSQ_CHECK(element_value(code, s, g) == x,
                    "{}: value {} at [{}, {}] is not on the grid of block scale {} and global scale {}", spec.name(), x,
                    r, c, s, g);
        L.put(L.row(pk.codes, r), c, code);
      }
    }
  return pk;
}

void nvfp4_unpack(const QuantSpec& spec, const Packed& pk, int64_t rows, int64_t cols, float* out) {
  check_spec(spec, rows, cols);
  const CodeLayout L{4, cols};
  const bool ref = spec.nvfp4_ref;
  check_packed(spec, pk, L, rows, nvfp4_num_scales(spec, rows, cols), ref ? "F32" : "F8_E4M3", 0);
  const int64_t B = kNvfp4Block, nb = ceil_div(cols, B);
  const bool tile = spec.granularity == Granularity::Tile2D;
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMinElements)
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = L.row(pk.codes, r);
    for (int64_t jb = 0; jb < nb; ++jb) {
      const int64_t i = (tile ? r / B : r) * nb + jb;
      const float s = ref ? get_f32(pk.scales, i) : e4m3_decode(pk.scales[i]);
      for (int64_t c = jb * B; c < std::min((jb + 1) * B, cols); ++c)
        out[r * cols + c] = element_value(L.get(row, c), s, pk.global_scale);
    }
  }
}

}  // namespace hessq::formats
