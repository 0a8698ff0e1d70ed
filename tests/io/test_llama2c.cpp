#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "hessq/core/error.hpp"
#include "hessq/io/llama2c.hpp"
#include "test_util.hpp"

namespace hessq::io {

static std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

static void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Llama2c, ReadsStoriesHeader) {
  auto ck = read_llama2c(test::stories_bin());
  EXPECT_EQ(ck.cfg.dim, 64);
  EXPECT_EQ(ck.cfg.hidden_dim, 172);
  EXPECT_EQ(ck.cfg.n_layers, 5);
  EXPECT_EQ(ck.cfg.n_heads, 8);
  EXPECT_EQ(ck.cfg.n_kv_heads, 4);
  EXPECT_EQ(ck.cfg.vocab_size, 512);
  EXPECT_TRUE(ck.cfg.tie_embeddings);
  int64_t params = 0;
  for (const auto& [name, t] : ck.tensors) params += t.numel();
  EXPECT_EQ(params, 260032);
}

// Writing back what was read reproduces the file byte for byte, legacy RoPE tables included.
TEST(Llama2c, RoundTripIsByteIdentical) {
  const test::TempDir dir;
  auto ck = read_llama2c(test::stories_bin());
  write_llama2c((dir / "out.bin").string(), ck.cfg, ck.tensors, &ck.legacy_rope);
  EXPECT_EQ(read_bytes((dir / "out.bin").string()), read_bytes(test::stories_bin()));
}

// Without the original tables they are recomputed: within 1 ulp-ish of the exporter's (its float
// cos/sin differ from libm's in the last bit for some angles).
TEST(Llama2c, RecomputedRopeTablesMatchExporterClosely) {
  const test::TempDir dir;
  auto ck = read_llama2c(test::stories_bin());
  write_llama2c((dir / "out.bin").string(), ck.cfg, ck.tensors);
  auto back = read_llama2c((dir / "out.bin").string());
  for (int64_t i = 0; i < ck.legacy_rope.numel(); ++i)
    ASSERT_NEAR(back.legacy_rope.ptr()[i], ck.legacy_rope.ptr()[i], 1e-6f) << i;
}

static std::string error_of(const std::string& path) {
  try {
    read_llama2c(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Llama2c, TruncatedFileIsRejected) {
  const test::TempDir dir;
  std::string bytes = read_bytes(test::stories_bin());
  const std::string path = (dir / "trunc.bin").string();
  write_bytes(path, bytes.substr(0, bytes.size() - 100));
  std::string msg = error_of(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(Llama2c, BadHeaderIsRejected) {
  const test::TempDir dir;
  const std::string path = (dir / "bad.bin").string();
  write_bytes(path, std::string(1000, '\xff'));
  std::string msg = error_of(path);
  EXPECT_NE(msg.find("not a llama2.c checkpoint"), std::string::npos) << msg;
  write_bytes(path, "abc");
  EXPECT_NE(error_of(path).find("too short"), std::string::npos);
  EXPECT_NE(error_of((dir / "missing.bin").string()).find("cannot open"), std::string::npos);
}

TEST(Llama2c, WriteIntoMissingDirectoryLeavesNothing) {
  const test::TempDir dir;
  auto ck = read_llama2c(test::stories_bin());
  const auto out = dir / "no" / "such" / "out.bin";
  EXPECT_THROW(write_llama2c(out.string(), ck.cfg, ck.tensors), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "no"));
}

}  // namespace hessq::io
