#include "hessq/kernels/int_gemv.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "hessq/core/error.hpp"

namespace hessq::kernels {

namespace {

// One whole block of 32 with AVX2: the scalar loop's operations, eight lanes at a time.
__attribute__((target("avx2,fma"))) int32_t quantize_block_avx2(const float* x, int8_t* q, float* d_out) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 v[4], m = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
  }
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  const float amax = _mm_cvtss_f32(h);
  if (amax == 0.0f) return 0;  // d = 0, q = 0 (left as assigned)
  const float d = amax / 127.0f;
  const __m256 vd = _mm256_set1_ps(d), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  __m256i k[4];
  for (int i = 0; i < 4; ++i) {
    const __m256 r = _mm256_round_ps(_mm256_div_ps(v[i], vd), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    k[i] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi));
  }
  // i32 -> i8 in order: the packs work per 128-bit lane, the permute puts the dwords back in order.
  const __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(k[0], k[1]), _mm256_packs_epi32(k[2], k[3]));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(w, order));
  const __m256i s = _mm256_add_epi32(_mm256_add_epi32(k[0], k[1]), _mm256_add_epi32(k[2], k[3]));
  __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
  *d_out = d;
  return _mm_cvtsi128_si32(t);
}

}  // namespace

void quantize_act_q8(const float* x, int64_t n, int64_t padded, ActQ8& out, Isa isa) {
  HESSQ_CHECK(padded % kIntBlock == 0 && padded >= n, "quantize_act_q8: {} values padded to {}", n, padded);
  const int64_t blocks = padded / kIntBlock;
  out.q.assign(static_cast<size_t>(padded), 0);
  out.d.assign(static_cast<size_t>(blocks), 0.0f);
  out.sum.assign(static_cast<size_t>(blocks), 0);
  for (int64_t j = 0; j < blocks; ++j) {
    const int64_t c0 = j * kIntBlock, c1 = std::min(n, c0 + kIntBlock);
    if (isa != Isa::Scalar && c1 - c0 == kIntBlock) {
      out.sum[j] = quantize_block_avx2(x + c0, out.q.data() + c0, &out.d[j]);
      continue;
    }
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
void rows_scalar(const IntBlockLayout& L, const uint8_t* data, const int8_t* xq, const float* xd, const float* xg,
                 float* y, int64_t r0, int64_t r1) {
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
        const int8_t* q = xq + j * kIntBlock;
        int32_t isum = 0;
        for (int i = 0; i < kIntBlock; ++i) isum += static_cast<int32_t>(u[i]) * q[i];
        gacc += xd[j] * static_cast<float>(isum);
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

// The four rows' F16 scales as one fp32 vector (lane i: row i's group at p[i]).
__attribute__((target("avx2,fma,f16c"))) inline __m128 scales4_f16c(const uint8_t* const* p) {
  uint16_t h[4];
  for (int i = 0; i < 4; ++i) std::memcpy(&h[i], p[i], 2);
  return _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(h)));
}

// Rows r .. r + 3 of a layout with row stride rb: their first bytes in row[]; a short tail (r1 - r < 4)
// repeats its last row. Returns how many are real.
inline int four_rows(const uint8_t* data, int64_t rb, int64_t r, int64_t r1, const uint8_t* row[4]) {
  const int rows = static_cast<int>(std::min<int64_t>(4, r1 - r));
  for (int i = 0; i < 4; ++i) row[i] = data + (r + std::min(i, rows - 1)) * rb;
  return rows;
}

// y[i] = sum(acc_i) - corr[i] for the `rows` real rows of four.
__attribute__((target("avx2,fma"))) inline void store_four(__m256 acc0, __m256 acc1, __m256 acc2, __m256 acc3,
                                                          __m128 corr, int rows, float* y) {
  alignas(16) float c[4];
  _mm_store_ps(c, corr);
  const float out[4] = {hsum8(acc0) - c[0], hsum8(acc1) - c[1], hsum8(acc2) - c[2], hsum8(acc3) - c[3]};
  for (int i = 0; i < rows; ++i) y[i] = out[i];
}

// The SIMD paths share this body (a macro, because each needs its own target attribute for its dot
// product to inline): rows in fours (four independent FMA chains, each activation block loaded once);
// one vector of eight i32 partial sums per block and row, scaled by d_j * s_rg into a float
// accumulator, reduced once per row. Everything carried from group to group stays in registers: the
// four rows' scales as one vector (lane i broadcast by vpermps), the zero-point terms s_rg * z_rg *
// xg_g as one vector; kept in arrays indexed by row, they went through the stack, and that
// store-to-load chain per group was the kernel's bottleneck at g = 32.
#define HESSQ_INT_ROWS(NAME, TARGET, DOT, ZSHIFT)                                                                   \
  template <int B>                                                                                                  \
  __attribute__((target(TARGET))) void NAME(const IntBlockLayout& L, const uint8_t* data, const int8_t* xq,         \
                                            const float* xd, const float* xg, float* y, int64_t r0, int64_t r1) {  \
    const int zshift = ZSHIFT;                                                                                      \
    const int64_t nb = L.group / kIntBlock, G = L.groups_per_row(), hb = L.header_bytes(), gb = L.group_bytes();   \
    const int64_t rb = L.row_bytes();                                                                               \
    const __m128 zsym = _mm_set1_ps(static_cast<float>(L.symmetric_zero() - zshift));                              \
    const __m256i lane0 = _mm256_set1_epi32(0), lane1 = _mm256_set1_epi32(1), lane2 = _mm256_set1_epi32(2),        \
                  lane3 = _mm256_set1_epi32(3);                                                                     \
    for (int64_t r = r0; r < r1; r += 4) {                                                                          \
      const uint8_t* row[4];                                                                                        \
      const int rows = four_rows(data, rb, r, r1, row);                                                             \
      __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                                     \
      __m128 corr = _mm_setzero_ps();                                                                               \
      for (int64_t g = 0; g < G; ++g) {                                                                             \
        const uint8_t* p[4] = {row[0] + g * gb, row[1] + g * gb, row[2] + g * gb, row[3] + g * gb};                 \
        const __m128 s = scales4_f16c(p);                                                                           \
        const __m128 z = L.asym ? _mm_sub_ps(_mm_setr_ps(p[0][2], p[1][2], p[2][2], p[3][2]),                       \
                                             _mm_set1_ps(static_cast<float>(zshift)))                               \
                                : zsym;                                                                             \
        corr = _mm_fmadd_ps(_mm_mul_ps(s, z), _mm_set1_ps(xg[g]), corr);                                            \
        for (int64_t k = 0; k < nb; ++k) {                                                                          \
          const int64_t j = g * nb + k, off = hb + k * 4 * B;                                                       \
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + j * kIntBlock));               \
          const __m256 ds = _mm256_castps128_ps256(_mm_mul_ps(s, _mm_set1_ps(xd[j])));                              \
          acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT<B>(unpack_avx2<B>(p[0] + off), q)),                         \
                                 _mm256_permutevar8x32_ps(ds, lane0), acc0);                                        \
          acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT<B>(unpack_avx2<B>(p[1] + off), q)),                         \
                                 _mm256_permutevar8x32_ps(ds, lane1), acc1);                                        \
          acc2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT<B>(unpack_avx2<B>(p[2] + off), q)),                         \
                                 _mm256_permutevar8x32_ps(ds, lane2), acc2);                                        \
          acc3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT<B>(unpack_avx2<B>(p[3] + off), q)),                         \
                                 _mm256_permutevar8x32_ps(ds, lane3), acc3);                                        \
        }                                                                                                           \
      }                                                                                                             \
      store_four(acc0, acc1, acc2, acc3, corr, rows, y + r);                                                        \
    }                                                                                                               \
  }

HESSQ_INT_ROWS(rows_avx2, "avx2,fma,f16c", dot_avx2, B == 8 ? 128 : 0)
HESSQ_INT_ROWS(rows_vnni, "avx2,fma,f16c,avx512f,avx512vl,avx512vnni", dot_vnni, 0)
#undef HESSQ_INT_ROWS

// 4-bit codes, an even number of blocks per group: two blocks at a time. One 256-bit load holds two
// blocks' nibble planes (byte j of block k: u_j | u_{j+16} << 4); its low nibbles are codes 0..15 of
// both blocks, its high nibbles codes 16..31. The activation is permuted once per call to match
// (pair_activations: per pair, q_k[0..15] q_k+1[0..15] then q_k[16..31] q_k+1[16..31]), so the i32
// lanes 0-3 of the product belong to block k and 4-7 to block k+1: scaled by [d_k x4 | d_k+1 x4].
// Half the instructions per code of the one-block body above. Sums are the same integer dot products
// per block; only the float summation order differs from the other paths.
#define HESSQ_INT4_PAIRS(NAME, TARGET, DOT2)                                                                        \
  __attribute__((target(TARGET))) void NAME(const IntBlockLayout& L, const uint8_t* data, const int8_t* xq,         \
                                            const float* xd, const float* xg, float* y, int64_t r0, int64_t r1) {  \
    const int64_t pairs = L.group / kIntBlock / 2, G = L.groups_per_row(), hb = L.header_bytes();                   \
    const int64_t gb = L.group_bytes(), rb = L.row_bytes();                                                         \
    const __m128 zsym = _mm_set1_ps(static_cast<float>(L.symmetric_zero()));                                        \
    const __m256i m4 = _mm256_set1_epi8(15);                                                                        \
    const __m256i lane0 = _mm256_set1_epi32(0), lane1 = _mm256_set1_epi32(1), lane2 = _mm256_set1_epi32(2),        \
                  lane3 = _mm256_set1_epi32(3);                                                                     \
    for (int64_t r = r0; r < r1; r += 4) {                                                                          \
      const uint8_t* row[4];                                                                                        \
      const int rows = four_rows(data, rb, r, r1, row);                                                             \
      __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;                                     \
      __m128 corr = _mm_setzero_ps();                                                                               \
      for (int64_t g = 0; g < G; ++g) {                                                                             \
        const uint8_t* p[4] = {row[0] + g * gb, row[1] + g * gb, row[2] + g * gb, row[3] + g * gb};                 \
        const __m128 s4 = scales4_f16c(p);                                                                          \
        const __m128 z = L.asym ? _mm_setr_ps(p[0][2], p[1][2], p[2][2], p[3][2]) : zsym;                           \
        corr = _mm_fmadd_ps(_mm_mul_ps(s4, z), _mm_set1_ps(xg[g]), corr);                                           \
        const __m256 s = _mm256_castps128_ps256(s4);                                                                \
        const __m256 s0 = _mm256_permutevar8x32_ps(s, lane0), s1 = _mm256_permutevar8x32_ps(s, lane1);              \
        const __m256 s2 = _mm256_permutevar8x32_ps(s, lane2), s3 = _mm256_permutevar8x32_ps(s, lane3);              \
        for (int64_t t = 0; t < pairs; ++t) {                                                                       \
          const int64_t j = (g * pairs + t) * 2, off = hb + t * 32;                                                 \
          const __m256i qlo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + j * kIntBlock));             \
          const __m256i qhi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + j * kIntBlock + 32));        \
          const __m256 d = _mm256_setr_m128(_mm_set1_ps(xd[j]), _mm_set1_ps(xd[j + 1]));                            \
          const auto prod = [&](const uint8_t* b) {                                                                 \
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));                              \
            return _mm256_cvtepi32_ps(                                                                              \
                DOT2(_mm256_and_si256(v, m4), qlo, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4), qhi));            \
          };                                                                                                        \
          acc0 = _mm256_fmadd_ps(prod(p[0] + off), _mm256_mul_ps(d, s0), acc0);                                     \
          acc1 = _mm256_fmadd_ps(prod(p[1] + off), _mm256_mul_ps(d, s1), acc1);                                     \
          acc2 = _mm256_fmadd_ps(prod(p[2] + off), _mm256_mul_ps(d, s2), acc2);                                     \
          acc3 = _mm256_fmadd_ps(prod(p[3] + off), _mm256_mul_ps(d, s3), acc3);                                     \
        }                                                                                                           \
      }                                                                                                             \
      store_four(acc0, acc1, acc2, acc3, corr, rows, y + r);                                                        \
    }                                                                                                               \
  }

// The same for 4-bit groups of one block (g = 32, llama.cpp's Q4_0 shape): the pair is two groups,
// their blocks one header apart (two 128-bit loads), each with its own scale. Per pair of groups the
// four rows' eight scales are one vector S = [s_g rows 0-3 | s_g+1 rows 0-3]; S * [d_g x4 | d_g+1 x4]
// permuted by [i i i i 4+i 4+i 4+i 4+i] gives row i's lane scales. An odd last group pairs with zeros.
#define HESSQ_INT4_G32(NAME, TARGET, DOT2)                                                                          \
  __attribute__((target(TARGET))) void NAME(const IntBlockLayout& L, const uint8_t* data, const int8_t* xq,         \
                                            const float* xd, const float* xg, float* y, int64_t r0, int64_t r1) {  \
    const int64_t G = L.groups_per_row(), hb = L.header_bytes(), gb = L.group_bytes(), rb = L.row_bytes();         \
    const __m256 zsym = _mm256_set1_ps(static_cast<float>(L.symmetric_zero()));                                    \
    const __m256i m4 = _mm256_set1_epi8(15);                                                                        \
    const __m256i lane0 = _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4);                                               \
    const __m256i lane1 = _mm256_setr_epi32(1, 1, 1, 1, 5, 5, 5, 5);                                               \
    const __m256i lane2 = _mm256_setr_epi32(2, 2, 2, 2, 6, 6, 6, 6);                                               \
    const __m256i lane3 = _mm256_setr_epi32(3, 3, 3, 3, 7, 7, 7, 7);                                               \
    for (int64_t r = r0; r < r1; r += 4) {                                                                          \
      const uint8_t* row[4];                                                                                        \
      const int rows = four_rows(data, rb, r, r1, row);                                                             \
      __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0, corr = acc0;                        \
      for (int64_t g = 0; g < G; g += 2) {                                                                          \
        const bool two = g + 1 < G;                                                                                 \
        const uint8_t* p[8];                                                                                        \
        for (int i = 0; i < 4; ++i) {                                                                               \
          p[i] = row[i] + g * gb;                                                                                   \
          p[4 + i] = two ? p[i] + gb : p[i];                                                                        \
        }                                                                                                           \
        uint16_t h[8];                                                                                              \
        for (int i = 0; i < 8; ++i) std::memcpy(&h[i], p[i], 2);                                                    \
        const __m256 S = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));                    \
        const float xg1 = two ? xg[g + 1] : 0.0f, d1 = two ? xd[g + 1] : 0.0f;                                      \
        const __m256 Z =                                                                                            \
            L.asym ? _mm256_setr_ps(p[0][2], p[1][2], p[2][2], p[3][2], p[4][2], p[5][2], p[6][2], p[7][2]) : zsym;  \
        corr = _mm256_fmadd_ps(_mm256_mul_ps(S, Z), _mm256_setr_m128(_mm_set1_ps(xg[g]), _mm_set1_ps(xg1)), corr);  \
        const __m256 SD = _mm256_mul_ps(S, _mm256_setr_m128(_mm_set1_ps(xd[g]), _mm_set1_ps(d1)));                  \
        const __m256i qlo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + g * kIntBlock));               \
        const __m256i qhi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + g * kIntBlock + 32));          \
        const auto prod = [&](int i) {                                                                              \
          const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p[i] + hb));                          \
          const __m128i b =                                                                                         \
              two ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p[4 + i] + hb)) : _mm_setzero_si128();         \
          const __m256i v = _mm256_setr_m128i(a, b);                                                                \
          return _mm256_cvtepi32_ps(                                                                                \
              DOT2(_mm256_and_si256(v, m4), qlo, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4), qhi));              \
        };                                                                                                          \
        acc0 = _mm256_fmadd_ps(prod(0), _mm256_permutevar8x32_ps(SD, lane0), acc0);                                 \
        acc1 = _mm256_fmadd_ps(prod(1), _mm256_permutevar8x32_ps(SD, lane1), acc1);                                 \
        acc2 = _mm256_fmadd_ps(prod(2), _mm256_permutevar8x32_ps(SD, lane2), acc2);                                 \
        acc3 = _mm256_fmadd_ps(prod(3), _mm256_permutevar8x32_ps(SD, lane3), acc3);                                 \
      }                                                                                                             \
      /* row i: lane i (even groups) plus lane 4 + i (odd groups) */                                            \
      store_four(acc0, acc1, acc2, acc3,                                                                            \
                 _mm_add_ps(_mm256_castps256_ps128(corr), _mm256_extractf128_ps(corr, 1)), rows, y + r);            \
    }                                                                                                               \
  }

// u_lo . q_lo + u_hi . q_hi in i32 lanes. AVX2: the two i16 pair sums are added before widening;
// codes <= 15 keep that exact (each pair sum |.| <= 2 * 15 * 127, two of them 7620 < 32767).
__attribute__((target("avx2,fma,f16c"))) inline __m256i dot2_avx2(__m256i ulo, __m256i qlo, __m256i uhi, __m256i qhi) {
  const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(ulo, qlo), _mm256_maddubs_epi16(uhi, qhi));
  return _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
}
__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni"))) inline __m256i dot2_vnni(__m256i ulo,
                                                                                               __m256i qlo,
                                                                                               __m256i uhi,
                                                                                               __m256i qhi) {
  return _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ulo, qlo), uhi, qhi);
}
HESSQ_INT4_PAIRS(rows_avx2_int4_pairs, "avx2,fma,f16c", dot2_avx2)
HESSQ_INT4_PAIRS(rows_vnni_int4_pairs, "avx2,fma,f16c,avx512f,avx512vl,avx512vnni", dot2_vnni)
HESSQ_INT4_G32(rows_avx2_int4_g32, "avx2,fma,f16c", dot2_avx2)
HESSQ_INT4_G32(rows_vnni_int4_g32, "avx2,fma,f16c,avx512f,avx512vl,avx512vnni", dot2_vnni)
#undef HESSQ_INT4_PAIRS
#undef HESSQ_INT4_G32

// Which two-block 4-bit body applies: an even number of blocks per group, or one block per group.
enum class Int4Pairs { None, InGroup, TwoGroups };
Int4Pairs int4_pairs(const IntBlockLayout& L) {
  if (L.bits != 4) return Int4Pairs::None;
  const int64_t nb = L.group / kIntBlock;
  return nb % 2 == 0 ? Int4Pairs::InGroup : nb == 1 ? Int4Pairs::TwoGroups : Int4Pairs::None;
}

// The activation codes in the two-block bodies' order (see HESSQ_INT4_PAIRS), padded to whole pairs:
// an odd last block pairs with zeros.
std::vector<int8_t> pair_activations(const std::vector<int8_t>& q) {
  const size_t pair = 2 * kIntBlock, half = kIntBlock / 2;
  std::vector<int8_t> out((q.size() + pair - 1) / pair * pair, 0);
  for (size_t p = 0; p < q.size(); p += pair)
    for (size_t i = 0; i < half; ++i) {
      out[p + i] = q[p + i];
      out[p + pair / 2 + i] = q[p + half + i];
      if (p + kIntBlock < q.size()) {
        out[p + half + i] = q[p + kIntBlock + i];
        out[p + pair / 2 + half + i] = q[p + kIntBlock + half + i];
      }
    }
  return out;
}

// Rows [r0, r1) of y: (layout, codes, activation codes, block scales d_j, group sums xg, y, r0, r1).
using RowsFn = void (*)(const IntBlockLayout&, const uint8_t*, const int8_t*, const float*, const float*, float*,
                        int64_t, int64_t);

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
  const IntGemvJob job{&L, data, y};
  int_gemv_many(&job, 1, x, isa);
}

void int_gemv_many(const IntGemvJob* jobs, int count, const ActQ8& x, Isa isa) {
  HESSQ_CHECK(int_gemv_isa_supported(isa), "int_gemv: this CPU does not support the {} path", isa_name(isa));
  HESSQ_CHECK(count >= 1 && count <= kMaxIntGemvJobs, "int_gemv_many: {} products, expected 1 to {}", count,
              kMaxIntGemvJobs);
  struct Plan {
    RowsFn rows;
    const int8_t* xq;
    std::vector<float> xg;  // sum_{j in g} d_j sum_i q_i per group: the zero-point term, shared by every row
  };
  Plan plans[kMaxIntGemvJobs];
  std::vector<int8_t> paired;  // the activation in the two-block bodies' order, made once if one needs it
  constexpr int64_t kRowsPerBlock = 64;
  int64_t first[kMaxIntGemvJobs + 1] = {0}, work = 0;
  for (int i = 0; i < count; ++i) {
    const IntBlockLayout& L = *jobs[i].L;
    HESSQ_CHECK(static_cast<int64_t>(x.q.size()) == L.padded_cols(),
                "int_gemv {}: activation has {} values, expected {}", L.describe(), x.q.size(), L.padded_cols());
    const Int4Pairs pairing = isa == Isa::Scalar ? Int4Pairs::None : int4_pairs(L);
    const bool vnni = isa == Isa::Avx512;
    Plan& p = plans[i];
    p.rows = pairing == Int4Pairs::InGroup     ? (vnni ? rows_vnni_int4_pairs : rows_avx2_int4_pairs)
             : pairing == Int4Pairs::TwoGroups ? (vnni ? rows_vnni_int4_g32 : rows_avx2_int4_g32)
             : vnni                            ? by_bits<PickVnni>(L.bits)
             : isa == Isa::Avx2                ? by_bits<PickAvx2>(L.bits)
                                               : rows_scalar;
    if (pairing != Int4Pairs::None && paired.empty()) paired = pair_activations(x.q);
    p.xq = pairing != Int4Pairs::None ? paired.data() : x.q.data();
    const int64_t nb = L.group / kIntBlock;
    p.xg.assign(static_cast<size_t>(L.groups_per_row()), 0.0f);
    for (int64_t g = 0; g < L.groups_per_row(); ++g)
      for (int64_t k = 0; k < nb; ++k) p.xg[g] += x.d[g * nb + k] * static_cast<float>(x.sum[g * nb + k]);
    first[i + 1] = first[i] + (L.rows + kRowsPerBlock - 1) / kRowsPerBlock;
    work += L.rows * L.padded_cols();
  }
  // Blocks of 64 rows numbered across the jobs in order, taken dynamically (a preempted thread holds
  // back no fixed share). Small products stay on one thread: a fork/join costs more than they take.
#pragma omp parallel for schedule(dynamic, 1) if (work >= (int64_t{1} << 18))
  for (int64_t b = 0; b < first[count]; ++b) {
    int i = 0;
    while (b >= first[i + 1]) ++i;
    const IntBlockLayout& L = *jobs[i].L;
    const int64_t r0 = (b - first[i]) * kRowsPerBlock;
    plans[i].rows(L, jobs[i].data, plans[i].xq, x.d.data(), plans[i].xg.data(), jobs[i].y, r0,
                  std::min(L.rows, r0 + kRowsPerBlock));
  }
}

}  // namespace hessq::kernels
