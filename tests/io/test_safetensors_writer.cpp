// The streaming safetensors writer: tensors declared up front, bytes written at fixed offsets in any
// order and in slices, every byte exactly once; the same bytes as write_safetensors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/io/safetensors.hpp"
#include "test_util.hpp"

namespace hessq::io {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

template <class Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown; expected one mentioning " << *parts.begin();
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// Raw bytes of mixed dtypes, so the data order (dtype size descending, then name) matters.
struct Sample {
  std::vector<double> f64 = {1.5, -2.25, 1e300};
  std::vector<float> f32a = {0.1f, -0.2f, 0.3f, 1e-3f, 65504.f, -1e-8f};
  std::vector<float> f32b = {42.0f};
  std::vector<uint16_t> bf16 = {0x3f80, 0xbf80, 0x4000, 0x0001, 0x7f7f, 0x1234, 0xfedc};
  std::vector<uint8_t> u8 = {1, 2, 3, 4, 5};
  std::vector<SafetensorsEntry> entries() const {
    return {{"model.f64", DType::F64, {3}, f64.data(), 24},
            {"a.f32", DType::F32, {2, 3}, f32a.data(), 24},
            {"scalar", DType::F32, {}, f32b.data(), 4},
            {"b.bf16", DType::BF16, {7}, bf16.data(), 14},
            {"bytes", DType::U8, {5}, u8.data(), 5},
            {"empty", DType::F16, {0, 4}, nullptr, 0}};
  }
};

std::vector<TensorDecl> decls_of(const std::vector<SafetensorsEntry>& entries) {
  std::vector<TensorDecl> d;
  for (const auto& e : entries) d.push_back({e.name, e.dtype, e.shape});
  return d;
}

TEST(SafetensorsWriter, ReverseOrderInChunksGivesWriteSafetensorsBytes) {
  const test::TempDir dir;
  Sample s;
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "streamed"}};
  write_safetensors((dir / "a.safetensors").string(), s.entries(), meta);

  const std::string path = (dir / "b.safetensors").string();
  auto entries = s.entries();
  {
    SafetensorsWriter w(path, decls_of(entries), meta);
    EXPECT_TRUE(fs::exists(path + ".tmp"));
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(fs::file_size(path + ".tmp"), w.file_size());  // pre-sized
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name > b.name; });
    for (const auto& e : entries) {
      // Chunks of 3 bytes (cutting elements), last chunk first.
      const auto* bytes = static_cast<const uint8_t*>(e.data);
      std::vector<size_t> starts;
      for (size_t off = 0; off < e.nbytes; off += 3) starts.push_back(off);
      std::reverse(starts.begin(), starts.end());
      for (size_t off : starts) w.write_part(e.name, off, bytes + off, std::min<size_t>(3, e.nbytes - off));
    }
    w.commit();
  }
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(read_bytes(path), read_bytes(dir / "a.safetensors"));

  // The writer reports the layout the reader finds.
  auto f = SafetensorsFile::open(path);
  SafetensorsWriter again((dir / "c.safetensors").string(), decls_of(s.entries()), meta);
  ASSERT_EQ(again.tensors().size(), f->tensors().size());
  for (size_t i = 0; i < f->tensors().size(); ++i) {
    EXPECT_EQ(again.tensors()[i].name, f->tensors()[i].name);
    EXPECT_EQ(again.tensors()[i].begin, f->tensors()[i].begin);
    EXPECT_EQ(again.tensors()[i].end, f->tensors()[i].end);
  }
  EXPECT_EQ(again.at("bytes").nbytes(), 5u);
}

TEST(SafetensorsWriter, ThreadsWritingDisjointSlices) {
  const test::TempDir dir;
  std::vector<float> big(100003);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) * 0.5f - 7.0f;
  write_safetensors((dir / "a.safetensors").string(), {{"big", DType::F32, {100003}, big.data(), big.size() * 4}});

  const std::string path = (dir / "b.safetensors").string();
  SafetensorsWriter w(path, {{"big", DType::F32, {100003}}});
  const size_t nbytes = big.size() * 4, chunk = 4096;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (size_t off = t * chunk; off < nbytes; off += 4 * chunk)
        w.write_part("big", off, reinterpret_cast<const uint8_t*>(big.data()) + off, std::min(chunk, nbytes - off));
    });
  for (auto& th : threads) th.join();
  w.commit();
  EXPECT_EQ(read_bytes(path), read_bytes(dir / "a.safetensors"));
}

TEST(SafetensorsWriter, Errors) {
  const test::TempDir dir;
  const std::string path = (dir / "m.safetensors").string();
  float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  {
    SafetensorsWriter w(path, {{"t", DType::F32, {2, 2}}, {"u", DType::F32, {4}}});
    expect_error([&] { w.write("nope", v, 16); }, {path, "'nope'", "not declared"});
    expect_error([&] { w.write("t", v, 12); }, {path, "'t'", "16 bytes", "12"});
    expect_error([&] { w.write_part("t", 8, v, 12); }, {path, "'t'", "outside its 16 bytes"});
    expect_error([&] { w.write_part("t", 17, v, 0); }, {path, "'t'", "outside"});
    w.write_part("t", 4, v, 8);                                                // [4, 12)
    expect_error([&] { w.write_part("t", 8, v, 8); }, {path, "'t'", "written twice", "[4, 12)"});
    expect_error([&] { w.write_part("t", 0, v, 8); }, {path, "'t'", "written twice"});
    expect_error([&] { w.write("t", v, 16); }, {path, "'t'", "written twice"});
    w.write_part("t", 0, v, 4);  // touching ranges are fine
    w.write("u", v, 16);
    expect_error([&] { w.write("u", v, 16); }, {path, "'u'", "written twice"});
    // [12, 16) of t is missing.
    expect_error([&] { w.commit(); }, {path, "'t'", "[12, 16)", "never written", "1 of 2"});
    EXPECT_FALSE(fs::exists(path));
    w.write_part("t", 12, v, 4);
    w.commit();
    expect_error([&] { w.write("u", v, 16); }, {path, "after commit"});
    expect_error([&] { w.commit(); }, {path, "twice"});
  }
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));

  expect_error([&] { SafetensorsWriter w(path, {{"t", DType::F32, {1}}, {"t", DType::F16, {2}}}); },
               {path, "'t'", "twice"});
  expect_error([&] { SafetensorsWriter w(path, {{"__metadata__", DType::F32, {1}}}); }, {path, "__metadata__"});
  expect_error([&] { SafetensorsWriter w(path, {{"t", DType::F32, {-1}}}); }, {path, "'t'", "invalid shape"});
  expect_error([&] { SafetensorsWriter w((dir / "missing" / "m.safetensors").string(), {}); }, {"missing"});
}

TEST(SafetensorsWriter, WithoutCommitLeavesNothing) {
  const test::TempDir dir;
  const std::string path = (dir / "m.safetensors").string();
  float v[4] = {};
  {
    SafetensorsWriter w(path, {{"t", DType::F32, {4}}});
    w.write("t", v, 16);
    EXPECT_TRUE(fs::exists(path + ".tmp"));
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_TRUE(fs::is_empty(dir));
}

TensorMap sample_f32() {
  TensorMap m;
  m["model.embed_tokens.weight"] = Tensor::from({3, 4}, {0.1f, -0.2f, 0.3f, 1e-3f, 65504.f, -1e-8f, 3.14159f, 2.71828f,
                                                          1.f / 3, -7.f, 0.f, 1e4f});
  m["model.norm.weight"] = Tensor::from({5}, {1.f, 1.0009765625f, 0.99951171875f, 1.00048828125f, -0.5f});
  m["scalar"] = Tensor::from({}, {42.5f});
  m["empty"] = Tensor::zeros({0, 3});
  Tensor big = Tensor::zeros({3, (int64_t{1} << 20) / 2 + 7});  // more than one conversion chunk
  for (int64_t i = 0; i < big.numel(); ++i) big.ptr()[i] = static_cast<float>(i % 1000) * 1.001f - 300.0f;
  m["big"] = big;
  return m;
}

TEST(SafetensorsWriter, StreamedF32MatchesInMemoryF32) {
  const test::TempDir dir;
  const TensorMap tensors = sample_f32();
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : tensors) shapes[name] = t.shape;
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  for (DType store : {DType::F32, DType::F16, DType::BF16}) {
    SCOPED_TRACE(dtype_name(store));
    const auto a = dir / "a.safetensors", b = dir / "b.safetensors";
    write_safetensors_f32(a.string(), tensors, store, meta);
    size_t calls = 0, largest = 0;
    auto fill = [&](const std::string& name, size_t begin, size_t end, float* out) {
      ++calls;
      largest = std::max(largest, end - begin);
      EXPECT_EQ(begin % 1000, 0u);
      const Tensor& t = tensors.at(name);
      ASSERT_LE(end, static_cast<size_t>(t.numel()));
      std::copy(t.ptr() + begin, t.ptr() + end, out);
    };
    write_safetensors_f32_streamed(b.string(), shapes, store, fill, meta, 1000);
    EXPECT_EQ(read_bytes(a), read_bytes(b));
    EXPECT_EQ(largest, 1000u);
    EXPECT_GT(calls, 1500u);

    // The in-memory writer's conversion (chunked internally) rounds each value to nearest even.
    if (store != DType::F32) {
      auto f = SafetensorsFile::open(a.string());
      auto raw = f->raw("big");
      const Tensor& big = tensors.at("big");
      for (int64_t i = 0; i < big.numel(); i += 9973) {
        uint16_t h;
        std::memcpy(&h, raw.data() + 2 * i, 2);
        EXPECT_EQ(h, store == DType::F16 ? f32_to_f16(big.ptr()[i]) : f32_to_bf16(big.ptr()[i])) << i;
      }
    }
  }
  expect_error([&] { write_safetensors_f32_streamed((dir / "c.safetensors").string(), shapes, DType::I8, {}); },
               {"I8"});
}

}  // namespace
}  // namespace hessq::io
