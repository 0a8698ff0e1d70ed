#include "hessq/io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hessq::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// ---- header parsing ----

// Bytes of a tensor of `shape` and `dtype`, or nullopt when a dimension is negative or it overflows.
std::optional<size_t> tensor_nbytes(const Shape& shape, DType dtype) {
  size_t n = dtype_size(dtype);
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, static_cast<size_t>(d), &n)) return std::nullopt;
  return n;
}

const json& require_key(const json& entry, const char* key, const std::string& path, const std::string& name) {
  auto it = entry.find(key);
  HESSQ_CHECK(it != entry.end(), "{}: tensor '{}': header entry has no \"{}\"", path, name, key);
  return *it;
}

SafetensorsTensorInfo parse_entry(const std::string& path, const std::string& name, const json& entry,
                                  size_t data_size) {
  HESSQ_CHECK(entry.is_object(), "{}: tensor '{}': header entry is {}, expected an object", path, name,
              entry.type_name());
  SafetensorsTensorInfo info;
  info.name = name;

  const json& dtype = require_key(entry, "dtype", path, name);
  HESSQ_CHECK(dtype.is_string(), "{}: tensor '{}': dtype is {}, expected a string", path, name, dtype.type_name());
  auto parsed = parse_dtype(dtype.get<std::string>());
  HESSQ_CHECK(parsed.has_value(), "{}: tensor '{}': unknown dtype '{}'", path, name, dtype.get<std::string>());
  info.dtype = *parsed;

  const json& shape = require_key(entry, "shape", path, name);
  HESSQ_CHECK(shape.is_array(), "{}: tensor '{}': shape is {}, expected an array", path, name, shape.type_name());
  for (const json& d : shape) {
    HESSQ_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max()),
                "{}: tensor '{}': shape {} has an entry that is not a non-negative integer", path, name,
                shape.dump());
    info.shape.push_back(d.get<int64_t>());
  }

  const json& offs = require_key(entry, "data_offsets", path, name);
  HESSQ_CHECK(offs.is_array() && offs.size() == 2 && offs[0].is_number_unsigned() && offs[1].is_number_unsigned(),
              "{}: tensor '{}': data_offsets is {}, expected [begin, end] (non-negative integers)", path, name,
              offs.dump());
  uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
  HESSQ_CHECK(begin <= end && end <= data_size,
              "{}: tensor '{}': data_offsets [{}, {}] outside the data section of {} bytes (expected "
              "begin <= end <= {})",
              path, name, begin, end, data_size, data_size);
  info.begin = begin;
  info.end = end;

  auto expected = tensor_nbytes(info.shape, info.dtype);
  HESSQ_CHECK(expected.has_value(), "{}: tensor '{}': shape {} overflows", path, name, shape_str(info.shape));
  HESSQ_CHECK(*expected == info.nbytes(), "{}: tensor '{}': {} {} needs {} bytes, found {} bytes in data_offsets",
              path, name, dtype_name(info.dtype), shape_str(info.shape), *expected, info.nbytes());
  return info;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& meta) {
  HESSQ_CHECK(meta.is_object(), "{}: __metadata__ is {}, expected an object", path, meta.type_name());
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : meta.items()) {
    HESSQ_CHECK(value.is_string(), "{}: __metadata__ '{}' is {}, expected a string", path, key, value.type_name());
    out[key] = value.get<std::string>();
  }
  return out;
}

// ---- conversion ----

template <class T, class Convert>
void convert_to_f32(const uint8_t* src, float* dst, size_t n, Convert convert) {
#pragma omp parallel for if (n > (1u << 16))
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));  // src may be unaligned
    dst[i] = convert(v);
  }
}

// ---- sharded checkpoints ----

json read_json_file(const std::string& path) {
  auto file = MappedFile::open(path);
  std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    HESSQ_FAIL("{}: not valid JSON: {}", path, e.what());
  }
}

// model.safetensors.index.json: {"weight_map": {tensor: shard file}}. Every listed shard must exist,
// every listed tensor must be in its shard, and no tensor may be in two shards.
TensorMap read_sharded(const std::string& index_path) {
  json index = read_json_file(index_path);
  HESSQ_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
              "{}: expected a JSON object with a \"weight_map\" object", index_path);
  std::map<std::string, std::vector<std::string>> by_shard;  // shard file -> tensors listed in it
  for (const auto& [name, shard] : index["weight_map"].items()) {
    HESSQ_CHECK(shard.is_string(), "{}: weight_map entry '{}' is {}, expected a shard file name", index_path, name,
                shard.type_name());
    by_shard[shard.get<std::string>()].push_back(name);
  }
  const fs::path dir = fs::path(index_path).parent_path();
  TensorMap out;
  std::map<std::string, std::string> shard_of;
  for (const auto& [shard, names] : by_shard) {
    const std::string shard_path = (dir / shard).string();
    HESSQ_CHECK(fs::is_regular_file(shard_path), "{}: shard '{}' (listed for tensor '{}') not found at {}",
                index_path, shard, names.front(), shard_path);
    auto file = SafetensorsFile::open(shard_path);
    for (const auto& name : names)
      HESSQ_CHECK(file->find(name), "{}: tensor '{}' is listed in shard '{}' but absent from {}", index_path, name,
                  shard, shard_path);
    for (const auto& info : file->tensors()) {
      auto [it, inserted] = shard_of.emplace(info.name, shard);
      HESSQ_CHECK(inserted, "{}: tensor '{}' is present in two shards, '{}' and '{}'", index_path, info.name,
                  it->second, shard);
      out.emplace(info.name, file->to_f32(info.name));
    }
  }
  return out;
}

}  // namespace

// ---- SafetensorsFile ----

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->map_ = MappedFile::open(path);
  const uint8_t* bytes = f->map_->data();
  const size_t size = f->map_->size();
  HESSQ_CHECK(size >= 8, "{}: file is {} bytes, too short for the 8-byte safetensors header length", path, size);
  uint64_t n;
  std::memcpy(&n, bytes, 8);
  HESSQ_CHECK(n <= size - 8, "{}: header length {} is larger than the {} bytes that follow it", path, n, size - 8);
  f->data_start_ = 8 + n;
  const size_t data_size = size - f->data_start_;

  // Duplicate keys would silently keep the last entry: reject them while parsing.
  std::set<std::string> keys;
  auto reject_duplicates = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key)
      HESSQ_CHECK(keys.insert(parsed.get<std::string>()).second, "{}: header lists '{}' twice", path,
                  parsed.get<std::string>());
    return true;
  };
  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + n, reject_duplicates);
  } catch (const json::exception& e) {
    HESSQ_FAIL("{}: header is not valid JSON: {}", path, e.what());
  }
  HESSQ_CHECK(header.is_object(), "{}: header is a JSON {}, expected an object", path, header.type_name());

  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey)
      f->metadata_ = parse_metadata(path, entry);
    else
      f->tensors_.push_back(parse_entry(path, name, entry, data_size));
  }
  std::sort(f->tensors_.begin(), f->tensors_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  // Sorted by begin, so only neighbours (among non-empty tensors) can overlap.
  const SafetensorsTensorInfo* prev = nullptr;
  for (const auto& t : f->tensors_) {
    if (t.nbytes() == 0) continue;
    HESSQ_CHECK(!prev || prev->end <= t.begin, "{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", path,
                prev->name, prev->begin, prev->end, t.name, t.begin, t.end);
    prev = &t;
  }
  for (size_t i = 0; i < f->tensors_.size(); ++i) f->index_[f->tensors_[i].name] = i;
  return f;
}

const SafetensorsTensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const SafetensorsTensorInfo& SafetensorsFile::at(const std::string& name) const {
  const auto* info = find(name);
  HESSQ_CHECK(info != nullptr, "{}: no tensor '{}'", path(), name);
  return *info;
}

std::span<const uint8_t> SafetensorsFile::raw(const std::string& name) const {
  const auto& info = at(name);
  return {map_->data() + data_start_ + info.begin, info.nbytes()};
}

Tensor SafetensorsFile::to_f32(const std::string& name) const {
  const auto& info = at(name);
  uint8_t* src = map_->data() + data_start_ + info.begin;
  const size_t n = info.nbytes() / dtype_size(info.dtype);
  switch (info.dtype) {
    case DType::F32:
      if (reinterpret_cast<uintptr_t>(src) % alignof(float) == 0)
        return Tensor::view(info.shape, reinterpret_cast<float*>(src), map_);
      break;
    case DType::F16:
    case DType::BF16:
    case DType::F64:
      break;
    default:
      HESSQ_FAIL("{}: tensor '{}' has dtype {}; only F32, F16, BF16 and F64 convert to fp32", path(), name,
                 dtype_name(info.dtype));
  }
  Tensor t = Tensor::zeros(info.shape);
  switch (info.dtype) {
    case DType::F32: std::memcpy(t.ptr(), src, info.nbytes()); break;
    case DType::F16: convert_to_f32<uint16_t>(src, t.ptr(), n, f16_to_f32); break;
    case DType::BF16: convert_to_f32<uint16_t>(src, t.ptr(), n, bf16_to_f32); break;
    case DType::F64: convert_to_f32<double>(src, t.ptr(), n, [](double v) { return static_cast<float>(v); }); break;
    default: break;
  }
  return t;
}

// ---- reading whole checkpoints ----

TensorMap read_safetensors(const std::string& path) {
  std::error_code ec;
  HESSQ_CHECK(fs::exists(path, ec), "{}: no such file or directory", path);
  std::string file = path;
  if (fs::is_directory(path, ec)) {
    const fs::path single = fs::path(path) / kSingleFile, index = fs::path(path) / kIndexFile;
    if (fs::exists(single, ec))
      file = single.string();
    else if (fs::exists(index, ec))
      return read_sharded(index.string());
    else
      HESSQ_FAIL("{}: directory holds neither {} nor {}", path, kSingleFile, kIndexFile);
  } else if (path.ends_with(".index.json")) {
    return read_sharded(path);
  }
  auto f = SafetensorsFile::open(file);
  TensorMap out;
  for (const auto& info : f->tensors()) out.emplace(info.name, f->to_f32(info.name));
  return out;
}

// ---- writing ----

void write_safetensors(const std::string& path, std::vector<SafetensorsEntry> entries,
                       const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  for (const auto& e : entries) {
    HESSQ_CHECK(!e.name.empty() && e.name != kMetadataKey, "{}: invalid tensor name '{}'", path, e.name);
    HESSQ_CHECK(names.insert(e.name).second, "{}: tensor '{}' given twice", path, e.name);
    auto expected = tensor_nbytes(e.shape, e.dtype);
    HESSQ_CHECK(expected.has_value(), "{}: tensor '{}': invalid shape {}", path, e.name, shape_str(e.shape));
    HESSQ_CHECK(*expected == e.nbytes, "{}: tensor '{}': {} {} needs {} bytes, given {}", path, e.name,
                dtype_name(e.dtype), shape_str(e.shape), *expected, e.nbytes);
    HESSQ_CHECK(e.data != nullptr || e.nbytes == 0, "{}: tensor '{}': no data", path, e.name);
  }
  // Larger elements first: every offset is then a multiple of its element size without padding.
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    size_t sa = dtype_size(a.dtype), sb = dtype_size(b.dtype);
    return sa != sb ? sa > sb : a.name < b.name;
  });

  json header = json::object();  // keys sorted by name
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  size_t offset = 0;
  for (const auto& e : entries) {
    header[e.name] = {{"dtype", dtype_name(e.dtype)},
                      {"shape", e.shape},
                      {"data_offsets", json::array({offset, offset + e.nbytes})}};
    offset += e.nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // e.g. a name that is not valid UTF-8
    HESSQ_FAIL("{}: cannot encode header: {}", path, e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  AtomicFile out(path);
  const uint64_t n = text.size();
  out.write(&n, 8);
  out.write(text);
  for (const auto& e : entries) out.write(e.data, e.nbytes);
  out.commit();
}

void write_safetensors_f32(const std::string& path, const TensorMap& tensors, DType store,
                           const std::map<std::string, std::string>& metadata) {
  HESSQ_CHECK(store == DType::F32 || store == DType::F16 || store == DType::BF16,
              "{}: fp32 tensors can be stored as F32, F16 or BF16, not {}", path, dtype_name(store));
  std::vector<std::vector<uint16_t>> halves;  // converted copies, alive until written
  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, t] : tensors) {
    HESSQ_CHECK(tensor_nbytes(t.shape, DType::F32).has_value(), "{}: tensor '{}': invalid shape {}", path, name,
                shape_str(t.shape));
    const auto n = static_cast<size_t>(t.numel());
    HESSQ_CHECK(t.ptr() != nullptr || n == 0, "{}: tensor '{}': no data", path, name);
    if (store == DType::F32) {
      entries.push_back({name, store, t.shape, t.ptr(), n * sizeof(float)});
      continue;
    }
    auto& h = halves.emplace_back(n);
    const float* src = t.ptr();
#pragma omp parallel for if (n > (1u << 16))
    for (size_t i = 0; i < n; ++i) h[i] = store == DType::F16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
    entries.push_back({name, store, t.shape, h.data(), n * sizeof(uint16_t)});
  }
  write_safetensors(path, std::move(entries), metadata);
}

}  // namespace hessq::io
