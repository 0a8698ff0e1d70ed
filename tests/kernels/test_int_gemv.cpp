// The INT block layout (int_blocks.hpp) and its GEMV (int_gemv.hpp): codes round-trip through every
// plane combination, decoding equals (u - z) s computed by hand, and every ISA path of int_gemv
// matches a naive double-precision product on ragged shapes.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/kernels/int_gemv.hpp"
#include "kernels/seeded.hpp"

namespace hessq::kernels {
namespace {

uint32_t lcg(uint32_t& s) { return s = s * 1664525u + 1013904223u; }

// A layout filled with seeded codes, F16 scales and zero points; W holds its decoded values [m, n]
// computed here, by hand, from the same numbers.
struct Blocks {
  IntBlockLayout L;
  std::vector<uint8_t> data;
  std::vector<double> W;
};

Blocks make_blocks(int bits, bool asym, int64_t m, int64_t n, int64_t group, uint32_t seed) {
  Blocks b{IntBlockLayout::make(bits, asym, m, n, group, "test"), {}, {}};
  const IntBlockLayout& L = b.L;
  b.data.assign(static_cast<size_t>(L.total_bytes()), 0);
  b.W.assign(static_cast<size_t>(m * n), 0.0);
  uint8_t u[kIntBlock];
  for (int64_t r = 0; r < m; ++r)
    for (int64_t g = 0; g < L.groups_per_row(); ++g) {
      uint8_t* p = b.data.data() + r * L.row_bytes() + g * L.group_bytes();
      const uint16_t h = f32_to_f16(0.01f + static_cast<float>(lcg(seed) % 1000) * 1e-4f);
      p[0] = static_cast<uint8_t>(h & 0xff);
      p[1] = static_cast<uint8_t>(h >> 8);
      const int z = asym ? static_cast<int>(lcg(seed) % (1u << bits)) : L.symmetric_zero();
      if (asym) p[2] = static_cast<uint8_t>(z);
      for (int64_t k = 0; k < L.group / kIntBlock; ++k) {
        for (int i = 0; i < kIntBlock; ++i) {
          u[i] = static_cast<uint8_t>(lcg(seed) >> 24 & ((1u << bits) - 1));
          const int64_t c = g * L.group + k * kIntBlock + i;
          if (c < n) b.W[r * n + c] = static_cast<double>(u[i] - z) * f16_to_f32(h);
        }
        encode_int_block(u, bits, p + L.header_bytes() + k * L.block_bytes());
      }
    }
  return b;
}

TEST(IntBlocks, CodesRoundTripAtEveryWidth) {
  uint32_t seed = 7;
  for (int bits = 2; bits <= 8; ++bits)
    for (int trial = 0; trial < 50; ++trial) {
      uint8_t u[kIntBlock], v[kIntBlock], bytes[32];
      for (auto& c : u) c = static_cast<uint8_t>(lcg(seed) >> 24 & ((1u << bits) - 1));
      encode_int_block(u, bits, bytes);
      decode_int_block(bytes, bits, v);
      for (int i = 0; i < kIntBlock; ++i) ASSERT_EQ(u[i], v[i]) << bits << " bits, code " << i;
    }
}

// The byte-level diagram of int_blocks.hpp, checked on hand-made codes.
TEST(IntBlocks, PlaneLayoutMatchesTheDiagram) {
  uint8_t u[kIntBlock], bytes[32];
  for (int i = 0; i < kIntBlock; ++i) u[i] = static_cast<uint8_t>(i);  // 0..31 (5 bits)
  encode_int_block(u, 5, bytes);
  EXPECT_EQ(bytes[0], 0x00 | (16 & 15) << 4);       // u0 low nibble, u16 low nibble
  EXPECT_EQ(bytes[1], 1 | (17 & 15) << 4);
  EXPECT_EQ(bytes[16], 0x00);                       // top bits of u0..u7: all 0
  EXPECT_EQ(bytes[18], 0xff);                       // top bits of u16..u23: all 1
  uint8_t two[kIntBlock];
  for (int i = 0; i < kIntBlock; ++i) two[i] = static_cast<uint8_t>(i / 8);  // u_{j+8k} = k
  encode_int_block(two, 2, bytes);
  for (int j = 0; j < 8; ++j) EXPECT_EQ(bytes[j], 0 | 1 << 2 | 2 << 4 | 3 << 6) << j;
  EXPECT_EQ(IntBlockLayout::make(3, true, 2, 100, 64, "t").row_bytes(), 2 * (3 + 2 * 12));
  EXPECT_EQ(IntBlockLayout::make(4, false, 1, 100, 0, "t").group, 128);  // per channel: n rounded up to 32
}

TEST(IntBlocks, DequantizeEqualsHandDecoding) {
  for (int bits : {2, 3, 4, 5, 6, 7, 8})
    for (bool asym : {false, true}) {
      const Blocks b = make_blocks(bits, asym, 5, 70, 32, 11 + bits);
      std::vector<float> W(5 * 70);
      dequantize_int_rows(b.L, b.data.data(), 0, 5, W.data());
      for (size_t i = 0; i < W.size(); ++i) ASSERT_EQ(W[i], static_cast<float>(b.W[i])) << bits << " " << asym << " " << i;
      std::vector<float> rows(2 * 70);  // a row range
      dequantize_int_rows(b.L, b.data.data(), 2, 4, rows.data());
      for (size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(rows[i], W[2 * 70 + i]);
    }
}

TEST(IntBlocks, UnsupportedGroupsAreRefused) {
  EXPECT_THROW(IntBlockLayout::make(4, false, 4, 64, 16, "t"), Error);
  EXPECT_THROW(IntBlockLayout::make(9, false, 4, 64, 32, "t"), Error);
  EXPECT_THROW(IntBlockLayout::make(1, false, 4, 64, 32, "t"), Error);
  EXPECT_THROW(IntBlockLayout::make(4, false, int64_t{1} << 40, int64_t{1} << 40, 32, "t"), Error);  // no overflow
  EXPECT_THROW(IntBlockLayout::make(4, false, 0, 64, 32, "t"), Error);
}

TEST(IntGemv, ActivationQuantizerBoundsItsError) {
  const auto x = seeded(75, 3);
  ActQ8 q;
  quantize_act_q8(x.data(), 75, 96, q);
  ASSERT_EQ(q.q.size(), 96u);
  for (int64_t c = 0; c < 96; ++c) {
    const int64_t j = c / kIntBlock;
    if (c >= 75) {
      EXPECT_EQ(q.q[c], 0) << "padding";
      continue;
    }
    // round to nearest: |x - d q| <= d / 2 (plus the division's rounding, far below d / 2).
    EXPECT_LE(std::abs(x[c] - q.d[j] * q.q[c]), q.d[j] * 0.5001f) << c;
  }
  for (int64_t j = 0; j < 3; ++j) {
    int32_t s = 0;
    for (int i = 0; i < kIntBlock; ++i) s += q.q[j * kIntBlock + i];
    EXPECT_EQ(q.sum[j], s);
  }
}

// Each step of the quantizer is exact or one correctly rounded IEEE operation (quantize_act_q8), so
// the AVX2 path must give the scalar path's bytes: codes, scales and sums equal, not close. Values
// span magnitudes 1e-3 to 1e3, with exact ties (k + 0.5) * d and a zero block.
TEST(IntGemv, ActivationQuantizerPathsGiveTheSameBytes) {
  if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2";
  for (int64_t n : {1, 31, 32, 75, 256, 1000}) {
    auto x = seeded(n, static_cast<uint32_t>(n));
    for (int64_t c = 0; c < n; ++c) x[c] *= std::pow(10.0f, static_cast<float>(c % 7) - 3.0f);
    if (n >= 64) {
      for (int64_t c = 32; c < 64; ++c) x[c] = 0.0f;                        // a zero block
      for (int64_t c = 0; c < 32; ++c) x[c] = (static_cast<float>(c) - 15.5f);  // max 15.5: d = 15.5/127, ties
    }
    const int64_t padded = (n + kIntBlock - 1) / kIntBlock * kIntBlock;
    ActQ8 a, b;
    quantize_act_q8(x.data(), n, padded, a, Isa::Scalar);
    quantize_act_q8(x.data(), n, padded, b, Isa::Avx2);
    EXPECT_EQ(a.q, b.q) << n;
    EXPECT_EQ(a.d, b.d) << n;
    EXPECT_EQ(a.sum, b.sum) << n;
  }
}

// y against sum_c W[r, c] d_j q_c in double. The integer dot products are exact; the float part sums
// one term per block (n / 32 products d_j * s * isum) in some order: |error| <= (n/32 + 2) * 2^-23 *
// sum |w x_q| is a loose bound for that (2^-23: one rounding of the product plus the summation).
TEST(IntGemv, EveryIsaMatchesDoubleReferenceOnRaggedShapes) {
  struct Case {
    int64_t m, n, group;
  };
  // 4-bit takes a two-block body when a group has an even number of blocks or one block (int_gemv.cpp):
  // odd group counts at g32 (100, 160 columns: 4 and 5 groups) pair the last group with zeros; per
  // channel with 3 blocks (96 columns) takes the one-block body.
  const Case cases[] = {{1, 1, 0},     {3, 31, 0},     {5, 33, 0},     {67, 172, 0},  {4, 96, 0},    {7, 100, 32},
                        {6, 160, 32},  {130, 200, 64}, {64, 256, 128}, {9, 300, 128}, {129, 768, 32}};
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!int_gemv_isa_supported(isa)) continue;
    for (int bits = 2; bits <= 8; ++bits)
      for (bool asym : {false, true})
        for (const Case& c : cases) {
          const Blocks b = make_blocks(bits, asym, c.m, c.n, c.group, static_cast<uint32_t>(bits * 100 + c.n));
          const auto x = seeded(c.n, static_cast<uint32_t>(c.m));
          ActQ8 q;
          quantize_act_q8(x.data(), c.n, b.L.padded_cols(), q);
          std::vector<float> y(c.m);
          int_gemv(b.L, b.data.data(), q, y.data(), isa);
          for (int64_t r = 0; r < c.m; ++r) {
            double ref = 0, mag = 0, exact = 0, err_bound = 0;
            for (int64_t k = 0; k < c.n; ++k) {
              const double xq = static_cast<double>(q.d[k / kIntBlock]) * q.q[k];
              ref += b.W[r * c.n + k] * xq;
              mag += std::abs(b.W[r * c.n + k] * xq);
              exact += b.W[r * c.n + k] * x[k];
              err_bound += std::abs(b.W[r * c.n + k]) * q.d[k / kIntBlock] * 0.5;
            }
            const double tol = (static_cast<double>(b.L.padded_cols()) / kIntBlock + 2) * 0x1.0p-23 * mag + 1e-30;
            ASSERT_NEAR(y[r], ref, tol) << isa_name(isa) << " int" << bits << (asym ? " asym " : " sym ") << c.m << "x"
                                        << c.n << " g" << c.group << " row " << r;
            // Against the unquantized activations: the activation rounding bound (see int_gemv.hpp).
            ASSERT_NEAR(y[r], exact, err_bound + tol) << isa_name(isa) << " row " << r;
          }
        }
  }
}

TEST(IntGemv, IdenticalBytesAtAnyThreadCount) {
  const Blocks b = make_blocks(4, false, 1000, 512, 32, 5);
  const auto x = seeded(512, 9);
  ActQ8 q;
  quantize_act_q8(x.data(), 512, 512, q);
  std::vector<float> y1(1000), y3(1000);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  int_gemv(b.L, b.data.data(), q, y1.data());
  omp_set_num_threads(3);
  int_gemv(b.L, b.data.data(), q, y3.data());
  omp_set_num_threads(saved);
  EXPECT_EQ(y1, y3);
}

// Products of one activation through int_gemv_many equal int_gemv's one at a time, byte for byte (the
// same row bodies on the same 64-row blocks), for mixed formats and at any thread count.
TEST(IntGemv, ManyMatchesOneAtATime) {
  // 1464 rows x 256 values: above int_gemv's parallel threshold (2^18 products), so the threads really split it.
  const Blocks a = make_blocks(4, false, 1200, 256, 32, 11), b = make_blocks(4, true, 70, 256, 128, 12),
               c = make_blocks(8, false, 129, 256, 0, 13), d = make_blocks(3, false, 65, 256, 64, 14);
  const auto x = seeded(256, 9);
  ActQ8 q;
  quantize_act_q8(x.data(), 256, 256, q);
  const Blocks* all[] = {&a, &b, &c, &d};
  const int saved = omp_get_max_threads();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!int_gemv_isa_supported(isa)) continue;
    std::vector<std::vector<float>> one(4), many(4);
    IntGemvJob jobs[4];
    for (int i = 0; i < 4; ++i) {
      one[i].resize(all[i]->L.rows);
      many[i].resize(all[i]->L.rows);
      int_gemv(all[i]->L, all[i]->data.data(), q, one[i].data(), isa);
      jobs[i] = {&all[i]->L, all[i]->data.data(), many[i].data()};
    }
    for (int threads : {1, 3}) {
      omp_set_num_threads(threads);
      int_gemv_many(jobs, 4, q, isa);
      for (int i = 0; i < 4; ++i) EXPECT_EQ(one[i], many[i]) << isa_name(isa) << " job " << i << " threads " << threads;
    }
  }
  omp_set_num_threads(saved);
}

TEST(IntGemv, WrongActivationLengthIsAnError) {
  const Blocks b = make_blocks(4, false, 2, 64, 32, 5);
  ActQ8 q;
  const auto x = seeded(32, 1);
  quantize_act_q8(x.data(), 32, 32, q);
  std::vector<float> y(2);
  EXPECT_THROW(int_gemv(b.L, b.data.data(), q, y.data()), Error);
}

}  // namespace
}  // namespace hessq::kernels
