// HiddenStates: F32 storage is exact, F16/BF16 round like the codecs of core/half.hpp, a spilled
// (memory-mapped file) store holds the same values as an in-memory one and removes its file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/pipeline/hidden_states.hpp"
#include "test_util.hpp"

namespace hessq::pipeline {

namespace {

std::vector<float> window_values(int64_t w, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(0.731 * i + 3.1 * w) * std::exp(0.01 * (i % 97)));
  return v;
}

}  // namespace

TEST(HiddenStates, StorageRoundsAsItsDtypeAndSpillingChangesNothing) {
  const test::TempDir dir;
  const int64_t W = 3, T = 5, D = 7;
  for (io::DType dt : {io::DType::F32, io::DType::F16, io::DType::BF16}) {
    SCOPED_TRACE(io::dtype_name(dt));
    const std::string file = (dir / "spill.bin").string();
    {
      HiddenStates mem(W, T, D, dt), spill(W, T, D, dt, file);
      EXPECT_TRUE(spill.spilled());
      EXPECT_TRUE(std::filesystem::exists(file));
      EXPECT_EQ(std::filesystem::file_size(file), static_cast<uintmax_t>(spill.bytes()));
      for (int64_t w = 0; w < W; ++w) {
        const std::vector<float> v = window_values(w, T * D);
        mem.write(w, v.data());
        spill.write(w, v.data());
      }
      std::vector<float> a(T * D), b(T * D);
      for (int64_t w = 0; w < W; ++w) {
        const std::vector<float> v = window_values(w, T * D);
        mem.read(w, a.data());
        spill.read(w, b.data());
        EXPECT_EQ(a, b);
        for (int64_t i = 0; i < T * D; ++i) {
          const float expect = dt == io::DType::F32   ? v[i]
                               : dt == io::DType::F16 ? f16_to_f32(f32_to_f16(v[i]))
                                                      : bf16_to_f32(f32_to_bf16(v[i]));
          ASSERT_EQ(a[i], expect) << i;
        }
      }
    }
    EXPECT_FALSE(std::filesystem::exists(file));  // the spill file goes with the states
  }
}

TEST(HiddenStates, BadShapesAndDtypesAreRefused) {
  EXPECT_THROW(HiddenStates(0, 4, 4, io::DType::F32), Error);
  EXPECT_THROW(HiddenStates(2, 4, 4, io::DType::I8), Error);
  HiddenStates hs(2, 2, 2, io::DType::F32);
  std::vector<float> x(4);
  EXPECT_THROW(hs.read(2, x.data()), Error);
  EXPECT_THROW(HiddenStates(1, 1, 1, io::DType::F32, "/nonexistent-dir/spill.bin"), Error);
}

}  // namespace hessq::pipeline
