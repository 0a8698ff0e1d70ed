#include "hessq/io/gguf.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "test_util.hpp"
#include "test_util/gguf_writer.hpp"

namespace hessq::io {
namespace {

using test::TestGgufWriter;

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

using test::error_of;

const std::vector<float> kF32Values = {1.5f, -2.f, 3.25f, 0.f, 1e-3f, -7.f};
const std::vector<float> kF16Values = {0.5f, -1.f, 65504.f, 0.099975586f};

// A file exercising every metadata type, nested arrays, a custom alignment and F32/F16/BF16 tensors.
std::string sample_file(uint32_t version = 3) {
  TestGgufWriter w;
  w.alignment = 64;
  w.kv<uint32_t>("general.alignment", GgufType::kUint32, 64);
  w.kv_str("general.name", "tiny");
  w.kv<uint8_t>("u8", GgufType::kUint8, 200);
  w.kv<int8_t>("i8", GgufType::kInt8, -100);
  w.kv<uint16_t>("u16", GgufType::kUint16, 60000);
  w.kv<int16_t>("i16", GgufType::kInt16, -30000);
  w.kv<int32_t>("i32", GgufType::kInt32, -123456);
  w.kv<float>("f32", GgufType::kFloat32, 0.25f);
  w.kv<uint8_t>("flag", GgufType::kBool, 1);
  w.kv<uint64_t>("u64", GgufType::kUint64, 1ull << 40);
  w.kv<int64_t>("i64", GgufType::kInt64, -(1ll << 40));
  w.kv<double>("f64", GgufType::kFloat64, 0.1);
  w.kv_raw_array("tokens", TestGgufWriter::str_array({"a", "", "<0x0A>", "\xe2\x96\x81hi"}));
  w.kv_raw_array("scores", TestGgufWriter::array<float>(GgufType::kFloat32, {0.f, -1.5f, 2.f}));
  w.kv_raw_array("types", TestGgufWriter::array<int32_t>(GgufType::kInt32, {1, 2, -3}));
  std::string nested;
  TestGgufWriter::put<uint32_t>(nested, static_cast<uint32_t>(GgufType::kArray));
  TestGgufWriter::put<uint64_t>(nested, 2);
  nested += TestGgufWriter::str_array({"x", "yz"}) + TestGgufWriter::str_array({});
  w.kv_raw_array("nested", nested);
  w.tensor("w.f32", {3, 2}, 0, raw(kF32Values));
  std::vector<uint16_t> f16;
  for (float x : kF16Values) f16.push_back(f32_to_f16(x));
  w.tensor("w.f16", {4}, 1, raw(f16));
  std::vector<uint16_t> bf16 = {f32_to_bf16(1.f), f32_to_bf16(-3.f)};
  w.tensor("w.bf16", {2, 1, 1}, 30, raw(bf16));
  w.tensor("w.q4_0", {32}, 2, std::string(18, '\0'));
  return w.bytes(version);
}

TEST(Gguf, ReadsLlamaSpmVocabMetadata) {
  GgufFile g = GgufFile::open(test::shared_path("vocab/llama-spm/ggml-vocab-llama-spm.gguf"));
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(g.get_u32("llama.vocab_size"), 32000u);
  auto tokens = g.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[3], "<0x00>");
  EXPECT_EQ(g.get_f32_array("tokenizer.ggml.scores").size(), 32000u);
  auto types = g.get_i32_array("tokenizer.ggml.token_type");
  ASSERT_EQ(types.size(), 32000u);
  EXPECT_EQ(types[0], 2);  // unknown
  EXPECT_EQ(types[1], 3);  // control
  EXPECT_EQ(g.get_u32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_TRUE(g.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(g.array_size("tokenizer.ggml.tokens"), 32000u);
  EXPECT_FALSE(g.find_string("tokenizer.ggml.merges").has_value());
  EXPECT_TRUE(g.tensors().empty());
}

TEST(Gguf, RoundTripsEveryValueTypeAndTensor) {
  for (uint32_t version : {2u, 3u}) {
    const test::TempDir tmp;
    auto path = tmp / "tiny.gguf";
    write_bytes(path, sample_file(version));
    GgufFile g = GgufFile::open(path.string());
    EXPECT_EQ(g.version(), version);
    EXPECT_EQ(g.alignment(), 64u);
    EXPECT_EQ(g.keys().size(), 16u);
    EXPECT_EQ(g.keys()[1], "general.name");
    EXPECT_EQ(g.get_string("general.name"), "tiny");
    EXPECT_EQ(g.get_u32("u8"), 200u);
    EXPECT_EQ(g.get_i64("i8"), -100);
    EXPECT_EQ(g.get_u32("u16"), 60000u);
    EXPECT_EQ(g.get_i64("i16"), -30000);
    EXPECT_EQ(g.get_i64("i32"), -123456);
    EXPECT_EQ(g.get_f32("f32"), 0.25f);
    EXPECT_TRUE(g.get_bool("flag"));
    EXPECT_EQ(g.get_i64("u64"), 1ll << 40);
    EXPECT_EQ(g.get_i64("i64"), -(1ll << 40));
    EXPECT_EQ(g.get_f32("f64"), 0.1f);
    EXPECT_EQ(g.find_u32("missing"), std::nullopt);
    EXPECT_EQ(g.find_u32("u16"), 60000u);
    EXPECT_EQ(g.get_string_array("tokens"), (std::vector<std::string>{"a", "", "<0x0A>", "\xe2\x96\x81hi"}));
    EXPECT_EQ(g.get_f32_array("scores"), (std::vector<float>{0.f, -1.5f, 2.f}));
    EXPECT_EQ(g.get_i32_array("types"), (std::vector<int32_t>{1, 2, -3}));
    EXPECT_EQ(g.array_type("nested"), GgufType::kArray);
    EXPECT_EQ(g.value_str("nested"), "[arr x 2]");

    ASSERT_EQ(g.tensors().size(), 4u);
    EXPECT_EQ(g.tensors()[0].name, "w.f32");
    EXPECT_EQ(g.tensor("w.f32").shape, (Shape{2, 3}));
    EXPECT_EQ(g.tensor("w.bf16").shape, (Shape{1, 1, 2}));
    EXPECT_EQ(g.tensor("w.f32").offset % 64, 0u);
    Tensor a = g.tensor_f32("w.f32");
    EXPECT_EQ(std::vector<float>(a.ptr(), a.ptr() + a.numel()), kF32Values);
    Tensor h = g.tensor_f32("w.f16");
    EXPECT_EQ(std::vector<float>(h.ptr(), h.ptr() + h.numel()), kF16Values);
    Tensor b = g.tensor_f32("w.bf16");
    EXPECT_EQ(std::vector<float>(b.ptr(), b.ptr() + b.numel()), (std::vector<float>{1.f, -3.f}));
    EXPECT_EQ(g.tensor("w.q4_0").nbytes, 18u);
  }
}

TEST(Gguf, WrongTypesAndMissingNamesAreErrors) {
  const test::TempDir tmp;
  auto path = tmp / "tiny.gguf";
  write_bytes(path, sample_file());
  GgufFile g = GgufFile::open(path.string());
  std::string e = error_of([&] { g.get_string("u8"); });
  EXPECT_NE(e.find("tiny.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("'u8'"), std::string::npos) << e;
  EXPECT_NE(e.find("expected str, found u8"), std::string::npos) << e;
  e = error_of([&] { g.get_u32("i8"); });
  EXPECT_NE(e.find("does not fit in u32"), std::string::npos) << e;
  e = error_of([&] { g.get_f32_array("tokens"); });
  EXPECT_NE(e.find("expected arr[f32], found [str x 4]"), std::string::npos) << e;
  e = error_of([&] { g.get_u32("nope"); });
  EXPECT_NE(e.find("missing key 'nope'"), std::string::npos) << e;
  e = error_of([&] { g.tensor_f32("w.q4_0"); });
  EXPECT_NE(e.find("'w.q4_0'"), std::string::npos) << e;
  EXPECT_NE(e.find("found Q4_0"), std::string::npos) << e;
  e = error_of([&] { g.tensor("w.nope"); });
  EXPECT_NE(e.find("missing tensor 'w.nope'"), std::string::npos) << e;
}

TEST(Gguf, EveryTruncationIsAnErrorNamingTheFile) {
  std::string full = sample_file();
  const test::TempDir dir;
  for (size_t n = 0; n < full.size(); ++n) {
    auto path = dir / "cut.gguf";
    write_bytes(path, full.substr(0, n));
    std::string e = error_of([&] { GgufFile::open(path.string()); });
    ASSERT_NE(e.find("cut.gguf"), std::string::npos) << "truncated to " << n << " bytes: " << e;
  }
}

TEST(Gguf, CorruptedBytesGiveErrorsNotCrashes) {
  std::string full = sample_file();
  const test::TempDir tmp;
  auto path = tmp / "flip.gguf";
  write_bytes(path, full);
  const uint64_t header = GgufFile::open(path.string()).tensors().front().offset;  // data section start
  const char kValues[] = {'\x00', '\xff', '\x41'};
  for (size_t i = 0; i < header; ++i) {
    std::string bytes = full;
    bytes[i] = kValues[i % 3] == full[i] ? '\x80' : kValues[i % 3];
    write_bytes(path, bytes);
    try {
      GgufFile g = GgufFile::open(path.string());
      for (const auto& key : g.keys()) g.value_str(key);
      for (const auto& t : g.tensors()) g.tensor_data(t.name);
    } catch (const Error& e) {
      ASSERT_NE(std::string(e.what()).find("flip.gguf"), std::string::npos) << e.what();
    }
  }
}

TEST(Gguf, CorruptHeadersAreErrors) {
  const test::TempDir dir;
  auto check = [&](std::string bytes, const std::string& expect) {
    auto path = dir / "bad.gguf";
    write_bytes(path, bytes);
    std::string e = error_of([&] { GgufFile::open(path.string()); });
    EXPECT_NE(e.find("bad.gguf"), std::string::npos) << e;
    EXPECT_NE(e.find(expect), std::string::npos) << "expected '" << expect << "' in: " << e;
  };
  std::string good = sample_file();

  check("GGML" + good.substr(4), "expected magic \"GGUF\", found \"GGML\"");
  check(sample_file(1), "expected 2 or 3, found 1");

  // Unknown value type for the first key ("general.alignment", 8 + 17 bytes after the 24-byte header).
  std::string bad_type = good;
  uint32_t t = 99;
  std::memcpy(&bad_type[24 + 8 + 17], &t, 4);
  check(bad_type, "unknown value type 99");

  // A string length of 2^60 must be rejected before anything is allocated.
  std::string huge = "GGUF";
  TestGgufWriter::put<uint32_t>(huge, 3);
  TestGgufWriter::put<uint64_t>(huge, 0);
  TestGgufWriter::put<uint64_t>(huge, 1);
  TestGgufWriter::put<uint64_t>(huge, 1ull << 60);
  check(huge + std::string(32, 'k'), "truncated: kv key needs 1152921504606846976 bytes");

  // An array claiming 2^40 elements.
  TestGgufWriter arr;
  std::string body;
  TestGgufWriter::put<uint32_t>(body, static_cast<uint32_t>(GgufType::kString));
  TestGgufWriter::put<uint64_t>(body, 1ull << 40);
  arr.kv_raw_array("tokenizer.ggml.tokens", body);
  check(arr.bytes(), "key 'tokenizer.ggml.tokens' is an array of 1099511627776 x str");

  // Tensor data beyond the end of the file.
  TestGgufWriter big;
  big.tensor("w", {1024}, 0, std::string(16, '\0'));
  std::string b = big.bytes();
  check(b, "tensor 'w' (F32 [1024])");

  TestGgufWriter unk;
  unk.tensor("q", {32}, 77, std::string(32, '\0'));
  check(unk.bytes(), "tensor 'q': unknown ggml type 77");

  // Fuzz finding (fuzz_gguf): a zero dimension made the element count 0, so the other dimensions
  // went unchecked and their product (2^56 x 65536) overflowed the shape's int64 element count.
  TestGgufWriter zero;
  zero.tensor("z", {0, 1ull << 56, 65536}, 0, "");
  check(zero.bytes(), "tensor 'z': dimension 2 = 65536 is out of range");
}

}  // namespace
}  // namespace hessq::io
