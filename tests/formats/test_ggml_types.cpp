// The ggml type table: ids, names and sizes as ggml.c's type_traits and ggml-common.h's block structs.
#include <gtest/gtest.h>

#include "hessq/core/error.hpp"
#include "hessq/formats/ggml_blocks.hpp"
#include "hessq/formats/ggml_types.hpp"

namespace hessq::formats {
namespace {

TEST(GgmlTypes, TableMatchesGgmlBlockStructs) {
  struct Row {
    uint32_t id;
    const char* name;
    uint64_t block, bytes;
  };
  // sizeof(block_*) from ggml-common.h: d/dmin f16 (2 bytes each) + scales + codes.
  const Row rows[] = {
      {2, "Q4_0", 32, 2 + 16},          {3, "Q4_1", 32, 2 + 2 + 16},      {6, "Q5_0", 32, 2 + 4 + 16},
      {7, "Q5_1", 32, 2 + 2 + 4 + 16},  {8, "Q8_0", 32, 2 + 32},          {10, "Q2_K", 256, 16 + 64 + 2 + 2},
      {11, "Q3_K", 256, 32 + 64 + 12 + 2}, {12, "Q4_K", 256, 2 + 2 + 12 + 128},
      {13, "Q5_K", 256, 2 + 2 + 12 + 32 + 128}, {14, "Q6_K", 256, 128 + 64 + 16 + 2},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    EXPECT_EQ(ggml_type_name(r.id), r.name);
    EXPECT_EQ(ggml_type_from_name(r.name), r.id);
    EXPECT_EQ(ggml_block_size(r.id), r.block);
    EXPECT_EQ(ggml_nbytes(r.id, 3 * r.block), 3 * r.bytes);
    EXPECT_TRUE(ggml_has_block_codec(r.id));
    const GgmlBlockShape s = ggml_block_shape(static_cast<GgmlType>(r.id));
    EXPECT_EQ(static_cast<uint64_t>(s.block), r.block);
    EXPECT_EQ(static_cast<uint64_t>(s.bytes), r.bytes);
  }
}

TEST(GgmlTypes, PlainAndUnknownTypes) {
  EXPECT_EQ(ggml_type_name(0), "F32");
  EXPECT_EQ(ggml_type_name(30), "BF16");
  EXPECT_EQ(ggml_nbytes(1, 10), 20u);
  EXPECT_EQ(ggml_type_name(4), "type 4");  // removed from ggml (old Q4_2)
  EXPECT_EQ(ggml_type_name(1000), "type 1000");
  EXPECT_EQ(ggml_block_size(1000), 0u);
  EXPECT_FALSE(ggml_nbytes(5, 32).has_value());
  EXPECT_FALSE(ggml_type_from_name("Q4_K_M").has_value());  // a llama-quantize preset, not a type
  int codecs = 0;
  for (uint32_t id = 0; id < 64; ++id) codecs += ggml_has_block_codec(id) ? 1 : 0;
  EXPECT_EQ(codecs, 10);
  EXPECT_FALSE(ggml_has_block_codec(15));  // Q8_K: sized and named only
  EXPECT_THROW(ggml_block_type(15), Error);
  EXPECT_THROW(ggml_block_type(0), Error);
}

}  // namespace
}  // namespace hessq::formats
