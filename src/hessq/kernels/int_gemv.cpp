#include "hessq/kernels/int_gemv.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "hessq/core/error.hpp"

namespace hessq::kernels {

void quantize_act_q8(const float* x, int64_t n, int64_t padded, ActQ8& out) {
  HESSQ_CHECK(padded % kIntBlock == 0 && padded >= n, "quantize_act_q8: {} values padded to {}", n, padded);
  const int64_t blocks = padded / kIntBlock;
  out.q.assign(static_cast<size_t>(padded), 0);
  out.d.assign(static_cast<size_t>(blocks), 0.0f);
  out.sum.assign(static_cast<size_t>(blocks), 0);
  for (int64_t j = 0; j < blocks; ++j) {
    const int64_t c0 = j * kIntBlock, c1 = std::min(n, c0 + kIntBlock);
    float amax = 0.0f;
    for (int64_t c = c0; c < c1; ++c) amax = std::fmax(amax, std::fabs(x[c]));
    if (amax == 0.0f) continue;  // d = 0, q = 0
    const float d = amax / 127.0f;
    int32_t s = 0;
    for (int64_t c = c0; c < c1; ++c) {
      const int q = static_cast<int>(std::fmin(std::fmax(std::nearbyint(x[c] / d), -127.0f), 127.0f));
      out.q[c] = static_cast<int8_t>(q);
      s += q;
    }
    out.d[j] = d;
    out.sum[j] = s;
  }
}

namespace {

// Reference: sequential float accumulation, per block then per group, as in the header's formula.
void rows_scalar(const IntBlockLayout& L, const uint8_t* data, const ActQ8& x, const float* xg, float* y, int64_t r0,
                 int64_t r1) {
  const int64_t nb = L.group / kIntBlock;
  uint8_t u[kIntBlock];
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* p = data + r * L.row_bytes();
    float acc = 0.0f;
    for (int64_t g = 0; g < L.groups_per_row(); ++g, p += L.group_bytes()) {
      const IntGroupHeader h = read_group_header(L, p);
      const uint8_t* b = p + L.header_bytes();
      float gacc = 0.0f;
      for (int64_t k = 0; k < nb; ++k, b += L.block_bytes()) {
        decode_int_block(b, L.bits, u);
        const int64_t j = g * nb + k;
        const int8_t* q = x.q.data() + j * kIntBlock;
        int32_t isum = 0;
        for (int i = 0; i < kIntBlock; ++i) isum += static_cast<int32_t>(u[i]) * q[i];
        gacc += x.d[j] * static_cast<float>(isum);
      }
      acc += h.scale * (gacc - static_cast<float>(h.zero) * xg[g]);
    }
    y[r] = acc;
  }
}

// One block's 32 codes in a 256-bit register (the planes of int_blocks.hpp).
template <int B>
__attribute__((target("avx2,fma"))) inline __m256i unpack_avx2(const uint8_t* b) {
  if constexpr (B == 8) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  __m256i u = _mm256_setzero_si256();
  constexpr int kNib = B >= 4 ? 4 : 0;
  if constexpr (kNib) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
    const __m128i m = _mm_set1_epi8(15);
    u = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
    b += 16;
  }
  constexpr int kTwo = B - kNib >= 2 ? 2 : 0;
  if constexpr (kTwo) {
    uint64_t w;
    std::memcpy(&w, b, 8);
    __m256i v = _mm256_srlv_epi64(_mm256_set1_epi64x(static_cast<long long>(w)), _mm256_set_epi64x(6, 4, 2, 0));
    v = _mm256_and_si256(v, _mm256_set1_epi8(3));
    if constexpr (kNib) v = _mm256_slli_epi16(v, kNib);  // values < 4: no carry into the next byte
    u = _mm256_or_si256(u, v);
    b += 8;
  }
  if constexpr (B - kNib - kTwo == 1) {
    uint32_t w;
    std::memcpy(&w, b, 4);
    // Byte i takes byte i / 8 of w (lane-local indices; set1_epi32 puts w in every lane), then its bit i % 8.
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                            3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(w)), spread);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    u = _mm256_or_si256(u, _mm256_and_si256(v, _mm256_set1_epi8(static_cast<char>(1 << (kNib + kTwo)))));
  }
  return u;
}

__attribute__((target("avx2,fma"))) inline float hsum8(__m256 s) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

// F16 scale of a group header (F16C; every AVX2 machine hessq targets has it).
__attribute__((target("avx2,fma,f16c"))) inline float scale_f16c(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Per-block integer products u . q as eight i32 partial sums.
// vpmaddubsw multiplies unsigned by signed bytes and saturates pair sums to i16: codes <= 127 (b <= 7)
// stay exact (2 * 127 * 127 < 32767). 8-bit codes are re-centred, w = u - 128, and multiplied with
// the sign trick (|w| unsigned times q with w's sign), so the group correction uses z - 128.
template <int B>
__attribute__((target("avx2,fma,f16c"))) inline __m256i dot_avx2(__m256i u, __m256i q) {
  if constexpr (B == 8) {
    const __m256i w = _mm256_xor_si256(u, _mm256_set1_epi8(static_cast<char>(0x80)));
    u = _mm256_sign_epi8(w, w);
    q = _mm256_sign_epi8(q, w);
  }
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, q), _mm256_set1_epi16(1));
}
// AVX-512 VNNI: vpdpbusd sums four u8 x s8 products into i32 lanes, exact for every code width.
template <int B>
__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni"))) inline __m256i dot_vnni(__m256i u, __m256i q) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, q);
}

// The SIMD paths share this body (a macro, because each needs its own target attribute for its dot
// product to inline): rows in fours (four independent FMA chains, each activation block loaded once);
// one vector of eight i32 partial sums per block and row, scaled by d_j * s_rg into a float
// accumulator, reduced once per row.
#define HESSQ_INT_ROWS(NAME, TARGET, DOT, ZSHIFT)                                                                   \
  template <int B>                                                                                                  \
  __attribute__((target(TARGET))) void NAME(const IntBlockLayout& L, const uint8_t* data, const ActQ8& x,           \
                                            const float* xg, float* y, int64_t r0, int64_t r1) {                   \
    constexpr int R = 4;                                                                                            \
    const int zshift = ZSHIFT;                                                                                      \
    const int64_t nb = L.group / kIntBlock, G = L.groups_per_row(), hb = L.header_bytes(), gb = L.group_bytes();   \
    const int64_t rb = L.row_bytes();                                                                               \
    for (int64_t r = r0; r < r1; r += R) {                                                                          \
      const int rows = static_cast<int>(std::min<int64_t>(R, r1 - r));                                              \
      __m256 acc[R];                                                                                                \
      float corr[R] = {};                                                                                           \
      for (auto& a : acc) a = _mm256_setzero_ps();                                                                  \
      for (int64_t g = 0; g < G; ++g) {                                                                             \
        const uint8_t* p[R];                                                                                        \
        float s[R];                                                                                                 \
        for (int i = 0; i < R; ++i) {                                                                               \
          p[i] = data + (r + std::min(i, rows - 1)) * rb + g * gb; /* short tail: repeat the last row */            \
          s[i] = scale_f16c(p[i]);                                                                                  \
          corr[i] += s[i] * static_cast<float>((L.asym ? p[i][2] : L.symmetric_zero()) - zshift) * xg[g];           \
          p[i] += hb;                                                                                               \
        }                                                                                                           \
        for (int64_t k = 0; k < nb; ++k) {                                                                          \
          const int64_t j = g * nb + k;                                                                             \
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q.data() + j * kIntBlock));       \
          const float d = x.d[j];                                                                                   \
          for (int i = 0; i < R; ++i) {                                                                             \
            const __m256i p32 = DOT<B>(unpack_avx2<B>(p[i] + k * 4 * B), q);                                        \
            acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_set1_ps(d * s[i]), acc[i]);                    \
          }                                                                                                         \
        }                                                                                                           \
      }                                                                                                             \
      for (int i = 0; i < rows; ++i) y[r + i] = hsum8(acc[i]) - corr[i];                                            \
    }                                                                                                               \
  }

HESSQ_INT_ROWS(rows_avx2, "avx2,fma,f16c", dot_avx2, B == 8 ? 128 : 0)
HESSQ_INT_ROWS(rows_vnni, "avx2,fma,f16c,avx512f,avx512vl,avx512vnni", dot_vnni, 0)
#undef HESSQ_INT_ROWS

using RowsFn = void (*)(const IntBlockLayout&, const uint8_t*, const ActQ8&, const float*, float*, int64_t, int64_t);

template <template <int> class Pick>
RowsFn by_bits(int bits) {
  switch (bits) {
    case 2: return Pick<2>::fn;
    case 3: return Pick<3>::fn;
    case 4: return Pick<4>::fn;
    case 5: return Pick<5>::fn;
    case 6: return Pick<6>::fn;
    case 7: return Pick<7>::fn;
    case 8: return Pick<8>::fn;
  }
  HESSQ_FAIL("int_gemv: {} bits has no kernel", bits);
}
template <int B>
struct PickAvx2 {
  static constexpr RowsFn fn = rows_avx2<B>;
};
template <int B>
struct PickVnni {
  static constexpr RowsFn fn = rows_vnni<B>;
};

}  // namespace

bool int_gemv_isa_supported(Isa isa) {
  if (isa != Isa::Avx512) return isa_supported(isa);
  return isa_supported(Isa::Avx512) && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

Isa int_gemv_best_isa() {
  static const Isa isa = [] {
    const Isa b = best_isa();
    return b == Isa::Avx512 && !int_gemv_isa_supported(Isa::Avx512) ? Isa::Avx2 : b;
  }();
  return isa;
}

void int_gemv(const IntBlockLayout& L, const uint8_t* data, const ActQ8& x, float* y, Isa isa) {
  HESSQ_CHECK(int_gemv_isa_supported(isa), "int_gemv: this CPU does not support the {} path", isa_name(isa));
  HESSQ_CHECK(static_cast<int64_t>(x.q.size()) == L.padded_cols(), "int_gemv {}: activation has {} values, expected {}",
              L.describe(), x.q.size(), L.padded_cols());
  const RowsFn rows = isa == Isa::Avx512 ? by_bits<PickVnni>(L.bits)
                      : isa == Isa::Avx2 ? by_bits<PickAvx2>(L.bits)
                                         : rows_scalar;
  // sum_{j in g} d_j sum_i q_i per group: the zero-point term, shared by every row.
  const int64_t nb = L.group / kIntBlock;
  std::vector<float> xg(static_cast<size_t>(L.groups_per_row()), 0.0f);
  for (int64_t g = 0; g < L.groups_per_row(); ++g)
    for (int64_t k = 0; k < nb; ++k) xg[g] += x.d[g * nb + k] * static_cast<float>(x.sum[g * nb + k]);
  constexpr int64_t kRowsPerBlock = 64;
  const int64_t blocks = (L.rows + kRowsPerBlock - 1) / kRowsPerBlock;
#pragma omp parallel for schedule(static) if (L.rows * L.padded_cols() >= (int64_t{1} << 18))
  for (int64_t b = 0; b < blocks; ++b)
    rows(L, data, x, xg.data(), y, b * kRowsPerBlock, std::min(L.rows, (b + 1) * kRowsPerBlock));
}

}  // namespace hessq::kernels
