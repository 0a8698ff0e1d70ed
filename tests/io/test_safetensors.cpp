#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"
#include "hessq/io/safetensors.hpp"
#include "test_util.hpp"

namespace hessq::io {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file built by hand: length prefix, header text, data bytes.
std::string st_bytes(const std::string& header, const std::string& data, uint64_t header_len = UINT64_MAX) {
  uint64_t n = header_len == UINT64_MAX ? header.size() : header_len;
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

template <class T>
std::string le_bytes(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return out;
}

// Runs `fn`, expecting a hessq::Error whose message contains every one of `parts`.
template <class Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown; expected one mentioning " << *parts.begin();
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

// Opens a hand-built file and expects the header to be rejected with a message naming the file.
void expect_open_error(const std::string& bytes, std::initializer_list<std::string> parts) {
  const test::TempDir tmp;
  fs::path p = tmp / "bad.safetensors";
  write_bytes(p, bytes);
  expect_error([&] { SafetensorsFile::open(p.string()); }, {p.string()});
  expect_error([&] { SafetensorsFile::open(p.string()); }, parts);
}

TensorMap sample_tensors() {
  TensorMap m;
  m["model.embed_tokens.weight"] = Tensor::from({3, 4}, {0.1f, -0.2f, 0.3f, 1e-3f, 65504.f, -1e-8f, 3.14159f, 2.71828f,
                                                          1.f / 3, -7.f, 0.f, 1e4f});
  m["model.norm.weight"] = Tensor::from({5}, {1.f, 1.0009765625f, 0.99951171875f, 1.00048828125f, -0.5f});
  m["scalar"] = Tensor::from({}, {42.5f});
  m["empty"] = Tensor::zeros({0, 3});
  return m;
}

// ---- round trips ----

TEST(Safetensors, RoundTripF32IsExactAndZeroCopy) {
  const test::TempDir tmp;
  auto path = (tmp / "m.safetensors").string();
  TensorMap in = sample_tensors();
  write_safetensors_f32(path, in, DType::F32);

  TensorMap out = read_safetensors(path);
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [name, t] : in) {
    ASSERT_TRUE(out.count(name)) << name;
    ASSERT_EQ(out[name].shape, t.shape) << name;
    for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(out[name].ptr()[i], t.ptr()[i]) << name << "[" << i << "]";
  }
  auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->at("model.norm.weight").dtype, DType::F32);
  Tensor view = f->to_f32("model.norm.weight");
  EXPECT_EQ(static_cast<const void*>(view.ptr()), static_cast<const void*>(f->raw("model.norm.weight").data()));
}

void check_half_round_trip(DType store, float (*decode)(uint16_t), uint16_t (*encode)(float)) {
  const test::TempDir tmp;
  auto path = (tmp / "m.safetensors").string();
  TensorMap in = sample_tensors();
  write_safetensors_f32(path, in, store);
  auto f = SafetensorsFile::open(path);
  TensorMap out = read_safetensors(path);
  for (const auto& [name, t] : in) {
    EXPECT_EQ(f->at(name).dtype, store) << name;
    EXPECT_EQ(f->at(name).nbytes(), static_cast<size_t>(t.numel()) * 2) << name;
    ASSERT_EQ(out[name].shape, t.shape) << name;
    for (int64_t i = 0; i < t.numel(); ++i)
      EXPECT_EQ(out[name].ptr()[i], decode(encode(t.ptr()[i]))) << name << "[" << i << "]";
  }
}

TEST(Safetensors, RoundTripF16RoundsToNearestEven) { check_half_round_trip(DType::F16, f16_to_f32, f32_to_f16); }

TEST(Safetensors, RoundTripBF16RoundsToNearestEven) {
  check_half_round_trip(DType::BF16, bf16_to_f32, f32_to_bf16);
}

TEST(Safetensors, MetadataRoundTrip) {
  const test::TempDir tmp;
  auto path = (tmp / "m.safetensors").string();
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"hessq", "{\"v\": 1}"}, {"note", "ünïcode"}};
  write_safetensors_f32(path, sample_tensors(), DType::BF16, meta);
  EXPECT_EQ(SafetensorsFile::open(path)->metadata(), meta);
}

TEST(Safetensors, EmptyFileRoundTrip) {
  const test::TempDir tmp;
  auto path = (tmp / "m.safetensors").string();
  write_safetensors(path, {});
  EXPECT_EQ(read_bytes(path), st_bytes("{}      ", ""));
  EXPECT_TRUE(read_safetensors(path).empty());
}

// ---- layout ----

TEST(Safetensors, ExactBytesOfASmallFile) {
  const test::TempDir tmp;
  auto path = (tmp / "m.safetensors").string();
  float v[2] = {1.0f, 2.0f};
  write_safetensors(path, {{"a", DType::F32, {2}, v, 8}});
  std::string header = R"({"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  EXPECT_EQ(read_bytes(path), st_bytes(header, le_bytes<float>({1.0f, 2.0f})));
}

TEST(Safetensors, DeterministicBytes) {
  const test::TempDir dir;
  std::map<std::string, std::string> meta = {{"format", "pt"}};
  write_safetensors_f32((dir / "a.safetensors").string(), sample_tensors(), DType::F16, meta);
  write_safetensors_f32((dir / "b.safetensors").string(), sample_tensors(), DType::F16, meta);
  EXPECT_EQ(read_bytes(dir / "a.safetensors"), read_bytes(dir / "b.safetensors"));
}

// Mixed dtypes: header padded to 8, data contiguous (what the safetensors library requires), every
// tensor naturally aligned, and the raw bytes read back unchanged.
TEST(Safetensors, MixedDtypesAreAlignedAndContiguous) {
  const test::TempDir tmp;
  auto path = (tmp / "m.safetensors").string();
  std::string u8 = "\x01\x02\x03", f16 = le_bytes<uint16_t>({0x3c00, 0xc000, 0x0001});
  std::string f32 = le_bytes<float>({1.5f}), f64 = le_bytes<double>({-2.25}), i64 = le_bytes<int64_t>({-5, 7});
  write_safetensors(path, {{"u8", DType::U8, {3}, u8.data(), 3},
                           {"a_f16", DType::F16, {3}, f16.data(), 6},
                           {"f32", DType::F32, {1}, f32.data(), 4},
                           {"z_f64", DType::F64, {1}, f64.data(), 8},
                           {"i64", DType::I64, {2}, i64.data(), 16}});
  std::string bytes = read_bytes(path);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);

  auto f = SafetensorsFile::open(path);
  size_t expected_begin = 0;
  for (const auto& t : f->tensors()) {
    EXPECT_EQ(t.begin, expected_begin) << t.name;
    EXPECT_EQ(t.begin % dtype_size(t.dtype), 0u) << t.name;
    expected_begin = t.end;
  }
  EXPECT_EQ(8 + n + expected_begin, bytes.size());
  auto raw = [&](const char* name) { return std::string(reinterpret_cast<const char*>(f->raw(name).data()),
                                                        f->raw(name).size()); };
  EXPECT_EQ(raw("u8"), u8);
  EXPECT_EQ(raw("a_f16"), f16);
  EXPECT_EQ(raw("i64"), i64);
  EXPECT_EQ(f->to_f32("z_f64").ptr()[0], -2.25f);
  EXPECT_EQ(f->to_f32("a_f16").ptr()[1], -2.0f);
}

// ---- reading files not written by us ----

TEST(Safetensors, ReadsHandBuiltFileWithUnalignedF32) {
  const test::TempDir tmp;
  auto path = (tmp / "hand.safetensors").string();
  std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
      R"("w":{"dtype":"F32","shape":[2,1],"data_offsets":[1,9]},)"
      R"("h":{"dtype":"BF16","shape":[1],"data_offsets":[9,11]},)"
      R"("i":{"dtype":"I64","shape":[1],"data_offsets":[11,19]}}  )";
  std::string data =
      std::string(1, 7) + le_bytes<float>({0.5f, -3.0f}) + le_bytes<uint16_t>({0x3f80}) + le_bytes<int64_t>({9});
  write_bytes(path, st_bytes(header, data));

  auto f = SafetensorsFile::open(path);
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->tensors()[0].name, "b");  // file order = data order
  EXPECT_EQ(f->tensors()[1].name, "w");
  EXPECT_EQ(f->at("w").shape, (Shape{2, 1}));
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->find("missing"), nullptr);
  Tensor w = f->to_f32("w");  // at data offset 1: copied, not viewed
  EXPECT_EQ(w.ptr()[0], 0.5f);
  EXPECT_EQ(w.ptr()[1], -3.0f);
  EXPECT_EQ(f->to_f32("h").ptr()[0], 1.0f);
  expect_error([&] { f->to_f32("i"); }, {path, "'i'", "I64"});
  expect_error([&] { f->to_f32("nope"); }, {path, "'nope'"});
  expect_error([&] { read_safetensors(path); }, {path, "'b'", "U8"});
}

TEST(Safetensors, ReadsDirectoryWithModelSafetensors) {
  const test::TempDir dir;
  write_safetensors_f32((dir / "model.safetensors").string(), sample_tensors(), DType::F32);
  EXPECT_EQ(read_safetensors(dir.string()).size(), sample_tensors().size());
}

// ---- sharded checkpoints ----

void write_index(const fs::path& dir, const std::string& weight_map) {
  write_bytes(dir / "model.safetensors.index.json",
              R"({"metadata": {"total_size": 0}, "weight_map": )" + weight_map + "}");
}

TEST(Safetensors, ShardedRead) {
  const test::TempDir dir;
  TensorMap all = sample_tensors(), a, b;
  for (const auto& [name, t] : all) (name < "n" ? a : b)[name] = t;  // "empty", "model.embed..." | rest
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  write_safetensors_f32((dir / "model-00001-of-00002.safetensors").string(), a, DType::F32);
  write_safetensors_f32((dir / "model-00002-of-00002.safetensors").string(), b, DType::BF16);
  std::string map = "{";
  for (const auto& [name, t] : all)
    map += "\"" + name + "\": \"model-0000" + (a.count(name) ? "1" : "2") + "-of-00002.safetensors\",";
  map.back() = '}';
  write_index(dir, map);

  for (auto path : {dir.string(), (dir / "model.safetensors.index.json").string()}) {
    TensorMap out = read_safetensors(path);
    ASSERT_EQ(out.size(), all.size());
    for (const auto& [name, t] : all) {
      ASSERT_EQ(out[name].shape, t.shape) << name;
      for (int64_t i = 0; i < t.numel(); ++i) {
        float expected = a.count(name) ? t.ptr()[i] : bf16_to_f32(f32_to_bf16(t.ptr()[i]));
        EXPECT_EQ(out[name].ptr()[i], expected) << name;
      }
    }
  }
}

TEST(Safetensors, ShardedIndexErrors) {
  const test::TempDir dir;
  auto index = (dir / "model.safetensors.index.json").string();
  TensorMap one = {{"x", Tensor::from({1}, {1.f})}};
  write_safetensors_f32((dir / "s1.safetensors").string(), one, DType::F32);
  write_safetensors_f32((dir / "s2.safetensors").string(), one, DType::F32);

  write_index(dir, R"({"x": "s1.safetensors", "y": "missing.safetensors"})");
  expect_error([&] { read_safetensors(dir.string()); }, {index, "missing.safetensors", "'y'"});

  write_index(dir, R"({"x": "s1.safetensors", "y": "s1.safetensors"})");
  expect_error([&] { read_safetensors(dir.string()); }, {index, "'y'", "s1.safetensors", "absent"});

  write_index(dir, R"({"x": "s2.safetensors", "z": "s1.safetensors"})");  // s1 also holds x
  write_safetensors_f32((dir / "s1.safetensors").string(), {{"x", one["x"]}, {"z", one["x"]}}, DType::F32);
  expect_error([&] { read_safetensors(dir.string()); }, {index, "'x'", "s1.safetensors", "s2.safetensors", "two"});

  write_bytes(index, R"({"weight_map": ["x"]})");
  expect_error([&] { read_safetensors(dir.string()); }, {index, "weight_map"});
  write_bytes(index, "{not json");
  expect_error([&] { read_safetensors(dir.string()); }, {index, "JSON"});
}

// ---- robustness of the reader ----

TEST(Safetensors, MissingPath) {
  const test::TempDir tmp;
  auto path = (tmp / "nope.safetensors").string();
  expect_error([&] { read_safetensors(path); }, {path});
  expect_error([&] { SafetensorsFile::open(path); }, {path});
  expect_error([&] { read_safetensors(tmp.string()); }, {"model.safetensors"});
}

TEST(Safetensors, FileShorterThanEightBytes) { expect_open_error("\x01\x02\x03", {"3 bytes", "8"}); }

TEST(Safetensors, HeaderLengthLargerThanFile) {
  expect_open_error(st_bytes("{}", "", 1000), {"1000", "2 bytes"});
  expect_open_error(st_bytes("{}", "", UINT64_MAX - 1), {"header length"});
}

TEST(Safetensors, HeaderNotJsonOrNotObject) {
  expect_open_error(st_bytes("{\"a\": ", ""), {"not valid JSON"});
  expect_open_error(st_bytes("[1, 2]  ", ""), {"array", "expected an object"});
  expect_open_error(st_bytes("", ""), {"not valid JSON"});
}

TEST(Safetensors, EntryMissingFields) {
  const std::string data(8, '\0');
  expect_open_error(st_bytes(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", data), {"'t'", "dtype"});
  expect_open_error(st_bytes(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", data), {"'t'", "shape"});
  expect_open_error(st_bytes(R"({"t":{"dtype":"F32","shape":[2]}})", data), {"'t'", "data_offsets"});
  expect_open_error(st_bytes(R"({"t":[1]})", data), {"'t'", "expected an object"});
  expect_open_error(st_bytes(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data), {"'t'", "shape"});
  expect_open_error(st_bytes(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data),
                    {"'t'", "data_offsets"});
  expect_open_error(st_bytes(R"({"__metadata__":{"k":1}})", ""), {"__metadata__", "'k'"});
}

TEST(Safetensors, DuplicateTensorName) {
  expect_open_error(st_bytes(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("t":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                             std::string(2, '\0')),
                    {"'t'", "twice"});
}

TEST(Safetensors, UnknownDtype) {
  expect_open_error(st_bytes(R"({"t":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", std::string(1, '\0')),
                    {"'t'", "unknown dtype 'F4'"});
}

TEST(Safetensors, OffsetsOutsideDataSectionOrReversed) {
  const std::string data(8, '\0');
  expect_open_error(st_bytes(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data),
                    {"'t'", "[0, 16]", "8 bytes"});
  expect_open_error(st_bytes(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", data), {"'t'", "[8, 4]"});
  expect_open_error(
      st_bytes(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]}})",
               data),
      {"'t'"});
}

TEST(Safetensors, ByteSizeMismatch) {
  expect_open_error(st_bytes(R"({"t":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}})", std::string(8, '\0')),
                    {"'t'", "F16 [2, 3]", "12 bytes", "found 8 bytes"});
  // A shape whose byte count overflows size_t is rejected, never allocated.
  expect_open_error(st_bytes(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                             std::string(8, '\0')),
                    {"'t'", "overflows"});
}

TEST(Safetensors, OverlappingTensors) {
  expect_open_error(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                             std::string(12, '\0')),
                    {"'a'", "'b'", "overlap"});
}

// ---- writer ----

TEST(Safetensors, AtomicWriteIntoMissingDirectoryLeavesNothing) {
  const test::TempDir dir;
  auto path = (dir / "no_such_dir" / "m.safetensors").string();
  expect_error([&] { write_safetensors_f32(path, sample_tensors(), DType::F32); }, {"no_such_dir"});
  EXPECT_FALSE(fs::exists(dir / "no_such_dir"));

  write_safetensors_f32((dir / "m.safetensors").string(), sample_tensors(), DType::F32);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().filename().string());
  EXPECT_EQ(files, std::vector<std::string>{"m.safetensors"});  // no .tmp left behind
}

TEST(Safetensors, WriterRejectsBadEntries) {
  const test::TempDir dir;
  auto path = (dir / "m.safetensors").string();
  float v[4] = {};
  expect_error([&] { write_safetensors(path, {{"t", DType::F32, {3}, v, 16}}); }, {path, "'t'", "12 bytes", "16"});
  expect_error([&] { write_safetensors(path, {{"t", DType::F32, {1}, v, 4}, {"t", DType::F16, {2}, v, 4}}); },
               {path, "'t'", "twice"});
  expect_error([&] { write_safetensors(path, {{"__metadata__", DType::F32, {1}, v, 4}}); }, {path, "__metadata__"});
  expect_error([&] { write_safetensors_f32(path, sample_tensors(), DType::I8); }, {path, "I8"});
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(DType, NamesSizesAndParsing) {
  for (DType t : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16, DType::I8,
                  DType::U8, DType::BOOL, DType::F8_E4M3, DType::F8_E5M2})
    EXPECT_EQ(parse_dtype(dtype_name(t)), t) << dtype_name(t);
  EXPECT_STREQ(dtype_name(DType::BF16), "BF16");
  EXPECT_STREQ(dtype_name(DType::F8_E4M3), "F8_E4M3");
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::F8_E5M2), 1u);
  EXPECT_EQ(parse_dtype("f32"), std::nullopt);
  EXPECT_EQ(parse_dtype("F4"), std::nullopt);
}

}  // namespace
}  // namespace hessq::io
