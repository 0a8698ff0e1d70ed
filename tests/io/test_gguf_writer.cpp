// GgufWriter against the tests' own byte-by-byte GGUF builder (test_util/gguf_writer.hpp): the same
// metadata and tensors give the same bytes (the writer also pads the last tensor to the alignment),
// and the reader gets every value back. Bad input is refused and leaves no file.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "hessq/io/gguf.hpp"
#include "hessq/io/gguf_writer.hpp"
#include "test_util.hpp"
#include "test_util/gguf_writer.hpp"

namespace hessq::io {
namespace {

using test::TestGgufWriter;

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string raw(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

TEST(GgufWriter, SameBytesAsTheTestBuilder) {
  const float f32[6] = {1.f, -2.f, 3.5f, 0.f, 1e-3f, 7.f};
  uint8_t q8[34];
  for (int i = 0; i < 34; ++i) q8[i] = static_cast<uint8_t>(i * 7 + 1);

  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 2);
  w.add_i32("x.i32", -5);
  w.add_f32("llama.rope.freq_base", 10000.f);
  w.add_bool("x.flag", true);
  w.add_string_array("tokenizer.ggml.tokens", {"a", "bc", ""});
  w.add_f32_array("tokenizer.ggml.scores", {0.5f, -1.f, 2.f});
  w.add_i32_array("tokenizer.ggml.token_type", {1, 3, 6});
  w.add_tensor("t.f32", {2, 3}, 0, [&](uint8_t* d) { std::memcpy(d, f32, sizeof f32); });
  w.add_tensor("t.q8", {1, 32}, 8, [&](uint8_t* d) { std::memcpy(d, q8, sizeof q8); });

  TestGgufWriter t;
  t.kv_str("general.architecture", "llama");
  t.kv<uint32_t>("llama.block_count", GgufType::kUint32, 2);
  t.kv<int32_t>("x.i32", GgufType::kInt32, -5);
  t.kv<float>("llama.rope.freq_base", GgufType::kFloat32, 10000.f);
  t.kv<uint8_t>("x.flag", GgufType::kBool, 1);
  t.kv_raw_array("tokenizer.ggml.tokens", TestGgufWriter::str_array({"a", "bc", ""}));
  t.kv_raw_array("tokenizer.ggml.scores", TestGgufWriter::array<float>(GgufType::kFloat32, {0.5f, -1.f, 2.f}));
  t.kv_raw_array("tokenizer.ggml.token_type", TestGgufWriter::array<int32_t>(GgufType::kInt32, {1, 3, 6}));
  t.tensor("t.f32", {3, 2}, 0, raw(f32, sizeof f32));  // ggml's ne: contiguous dimension first
  t.tensor("t.q8", {32, 1}, 8, raw(q8, sizeof q8));
  const std::string want = t.bytes();

  const test::TempDir dir;
  const std::string path = (dir / "w.gguf").string();
  w.write(path);
  const std::string got = read_all(path);
  ASSERT_EQ(got.size() % 32, 0u);
  ASSERT_GE(got.size(), want.size());
  EXPECT_EQ(got.substr(0, want.size()), want);
  EXPECT_EQ(got.substr(want.size()), std::string(got.size() - want.size(), '\0'));

  const GgufFile g = GgufFile::open(path);
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_i64("x.i32"), -5);
  EXPECT_TRUE(g.get_bool("x.flag"));
  EXPECT_EQ(g.get_string_array("tokenizer.ggml.tokens"), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(g.tensor("t.f32").shape, (Shape{2, 3}));
  EXPECT_EQ(std::memcmp(g.tensor_data("t.q8"), q8, sizeof q8), 0);

  // copy_kv reproduces every value type.
  GgufWriter c;
  for (const std::string& key : g.keys()) c.copy_kv(g, key);
  const std::string path2 = (dir / "c.gguf").string();
  c.write(path2);
  const GgufFile g2 = GgufFile::open(path2);
  EXPECT_EQ(g2.keys(), g.keys());
  for (const std::string& key : g.keys()) EXPECT_EQ(g2.value_str(key), g.value_str(key)) << key;
}

TEST(GgufWriter, RefusesBadInputAndLeavesNoFile) {
  GgufWriter w;
  w.add_u32("a", 1);
  EXPECT_NE(test::error_of([&] { w.add_u32("a", 2); }).find("'a' added twice"), std::string::npos);
  w.add_tensor("t", {2, 32}, 8, [](uint8_t*) {});
  EXPECT_NE(test::error_of([&] { w.add_tensor("t", {1}, 0, [](uint8_t*) {}); }).find("'t' added twice"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { w.add_tensor("q", {2, 48}, 8, [](uint8_t*) {}); }).find("48 values"),
            std::string::npos);
  w.add_tensor("bad", {4}, 0, [](uint8_t*) { HESSQ_FAIL("no values"); });
  const test::TempDir dir;
  const std::string path = (dir / "x.gguf").string();
  const std::string err = test::error_of([&] { w.write(path); });
  EXPECT_NE(err.find("tensor 'bad': no values"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace hessq::io
