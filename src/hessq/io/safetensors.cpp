#include "hessq/io/safetensors.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <bit>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

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
std::vector<std::shared_ptr<SafetensorsFile>> open_sharded(const std::string& index_path) {
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
  std::vector<std::shared_ptr<SafetensorsFile>> out;
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
    }
    out.push_back(std::move(file));
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

StoredTensor SafetensorsFile::stored(const std::string& name) const {
  const auto& info = at(name);
  StoredTensor t;
  t.name = name;
  t.shape = info.shape;
  t.dtype = info.dtype;
  t.data = map_->data() + data_start_ + info.begin;
  t.nbytes = info.nbytes();
  t.owner = map_;
  t.file = path();
  t.mapped = true;
  return t;
}

Tensor SafetensorsFile::to_f32(const std::string& name) const { return stored(name).to_f32(false); }

// ---- reading whole checkpoints ----

std::vector<std::shared_ptr<SafetensorsFile>> open_safetensors(const std::string& path) {
  std::error_code ec;
  HESSQ_CHECK(fs::exists(path, ec), "{}: no such file or directory", path);
  if (fs::is_directory(path, ec)) {
    const fs::path single = fs::path(path) / kSingleFile, index = fs::path(path) / kIndexFile;
    if (fs::exists(single, ec)) return {SafetensorsFile::open(single.string())};
    if (fs::exists(index, ec)) return open_sharded(index.string());
    HESSQ_FAIL("{}: directory holds neither {} nor {}", path, kSingleFile, kIndexFile);
  }
  if (path.ends_with(".index.json")) return open_sharded(path);
  return {SafetensorsFile::open(path)};
}

TensorMap read_safetensors(const std::string& path) {
  TensorMap out;
  for (const auto& f : open_safetensors(path))
    for (const auto& info : f->tensors()) out.emplace(info.name, f->to_f32(info.name));
  return out;
}

// ---- writing ----

namespace {

void pwrite_all(int fd, const uint8_t* p, size_t n, size_t offset, const std::string& file, const std::string& name) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, std::min(n, size_t{1} << 30), static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    HESSQ_CHECK(w > 0, "{}: tensor '{}': write of {} bytes at file offset {} failed: {}", file, name, n, offset,
                w < 0 ? std::strerror(errno) : "no progress");
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<size_t>(w);
  }
}

// Removes [a, b) from a set of disjoint ranges that covers it.
void erase_range(std::map<size_t, size_t>& ranges, size_t a, size_t b) {
  auto it = std::prev(ranges.upper_bound(a));
  const size_t lo = it->first, hi = it->second;
  ranges.erase(it);
  if (lo < a) ranges.emplace(lo, a);
  if (b < hi) ranges.emplace(b, hi);
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<TensorDecl> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)), tmp_(path_ + ".tmp") {
  std::set<std::string> names;
  for (const auto& t : tensors) {
    HESSQ_CHECK(!t.name.empty() && t.name != kMetadataKey, "{}: invalid tensor name '{}'", path_, t.name);
    HESSQ_CHECK(names.insert(t.name).second, "{}: tensor '{}' given twice", path_, t.name);
    HESSQ_CHECK(tensor_nbytes(t.shape, t.dtype).has_value(), "{}: tensor '{}': invalid shape {}", path_, t.name,
                shape_str(t.shape));
  }
  // Larger elements first: every offset is then a multiple of its element size without padding.
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    size_t sa = dtype_size(a.dtype), sb = dtype_size(b.dtype);
    return sa != sb ? sa > sb : a.name < b.name;
  });

  json header = json::object();  // keys sorted by name
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  size_t offset = 0;
  for (auto& t : tensors) {
    const size_t nbytes = *tensor_nbytes(t.shape, t.dtype);
    size_t end;
    HESSQ_CHECK(!__builtin_add_overflow(offset, nbytes, &end), "{}: tensor '{}': data section overflows", path_,
                t.name);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", json::array({offset, end})}};
    infos_.push_back({std::move(t.name), t.dtype, std::move(t.shape), offset, end});
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // e.g. a name that is not valid UTF-8
    HESSQ_FAIL("{}: cannot encode header: {}", path_, e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  data_start_ = 8 + text.size();
  data_size_ = offset;
  for (size_t i = 0; i < infos_.size(); ++i) index_[infos_[i].name] = i;
  progress_.resize(infos_.size());

  const fs::path parent = fs::path(path_).parent_path();
  HESSQ_CHECK(parent.empty() || fs::is_directory(parent), "{}: output directory {} does not exist", path_,
              parent.string());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  HESSQ_CHECK(fd_ >= 0, "{}: cannot create: {}", tmp_, std::strerror(errno));
  try {
    // Reserve the whole file now, so a full disk fails here rather than half-way through.
    const size_t total = file_size();
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(total)) != 0) {
      const int err = errno;
      HESSQ_CHECK(err == EOPNOTSUPP || err == ENOSYS, "{}: cannot reserve {} bytes: {}", tmp_, total,
                  std::strerror(err));
      HESSQ_CHECK(::ftruncate(fd_, static_cast<off_t>(total)) == 0, "{}: cannot resize to {} bytes: {}", tmp_, total,
                  std::strerror(errno));
    }
    const uint64_t n = text.size();
    pwrite_all(fd_, reinterpret_cast<const uint8_t*>(&n), 8, 0, tmp_, kMetadataKey);
    pwrite_all(fd_, reinterpret_cast<const uint8_t*>(text.data()), text.size(), 8, tmp_, kMetadataKey);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_.c_str());
    throw;
  }
}

SafetensorsWriter::~SafetensorsWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

const SafetensorsTensorInfo& SafetensorsWriter::info_of(const std::string& name) const {
  auto it = index_.find(name);
  HESSQ_CHECK(it != index_.end(), "{}: tensor '{}' was not declared", path_, name);
  return infos_[it->second];
}

const SafetensorsTensorInfo& SafetensorsWriter::at(const std::string& name) const { return info_of(name); }

void SafetensorsWriter::write(const std::string& name, const void* data, size_t nbytes) {
  const auto& info = info_of(name);
  HESSQ_CHECK(nbytes == info.nbytes(), "{}: tensor '{}': {} {} needs {} bytes, given {}", path_, name,
              dtype_name(info.dtype), shape_str(info.shape), info.nbytes(), nbytes);
  write_part(name, 0, data, nbytes);
}

void SafetensorsWriter::write_part(const std::string& name, size_t byte_offset, const void* data, size_t nbytes) {
  const auto& info = info_of(name);
  const size_t size = info.nbytes();
  HESSQ_CHECK(byte_offset <= size && nbytes <= size - byte_offset,
              "{}: tensor '{}': slice of {} bytes at byte {} is outside its {} bytes", path_, name, nbytes,
              byte_offset, size);
  if (nbytes == 0) return;
  HESSQ_CHECK(data != nullptr, "{}: tensor '{}': no data", path_, name);
  const size_t a = byte_offset, b = byte_offset + nbytes;
  Written& prog = progress_[index_.find(name)->second];
  {
    std::lock_guard lock(mutex_);
    HESSQ_CHECK(!committed_ && fd_ >= 0, "{}: tensor '{}': write after commit", path_, name);
    auto& r = prog.ranges;
    auto next = r.lower_bound(a);  // first range starting at or after a
    if (next != r.begin()) {
      auto prev = std::prev(next);
      HESSQ_CHECK(prev->second <= a, "{}: tensor '{}': bytes [{}, {}) written twice (overlap with [{}, {}))", path_,
                  name, a, b, prev->first, prev->second);
    }
    HESSQ_CHECK(next == r.end() || b <= next->first,
                "{}: tensor '{}': bytes [{}, {}) written twice (overlap with [{}, {}))", path_, name, a, b,
                next->first, next->second);
    // Record [a, b), merged with touching neighbours.
    size_t lo = a, hi = b;
    if (next != r.end() && next->first == b) {
      hi = next->second;
      next = r.erase(next);
    }
    if (next != r.begin() && std::prev(next)->second == a) {
      std::prev(next)->second = hi;
    } else {
      r.emplace_hint(next, lo, hi);
    }
    prog.written += nbytes;
    ++in_flight_;
  }
  try {
    pwrite_all(fd_, static_cast<const uint8_t*>(data), nbytes, data_start_ + info.begin + a, tmp_, name);
  } catch (...) {
    std::lock_guard lock(mutex_);
    erase_range(prog.ranges, a, b);
    prog.written -= nbytes;
    --in_flight_;
    throw;
  }
  std::lock_guard lock(mutex_);
  --in_flight_;
}

void SafetensorsWriter::commit() {
  std::lock_guard lock(mutex_);
  HESSQ_CHECK(!committed_ && fd_ >= 0, "{}: committed twice", path_);
  HESSQ_CHECK(in_flight_ == 0, "{}: commit while {} writes are still running", path_, in_flight_);
  size_t incomplete = 0;
  const SafetensorsTensorInfo* first = nullptr;
  size_t gap_begin = 0, gap_end = 0;
  for (size_t i = 0; i < infos_.size(); ++i) {
    if (progress_[i].written == infos_[i].nbytes()) continue;
    if (incomplete++ > 0) continue;
    first = &infos_[i];
    const auto& r = progress_[i].ranges;
    if (r.empty() || r.begin()->first > 0) {
      gap_end = r.empty() ? first->nbytes() : r.begin()->first;
    } else {
      gap_begin = r.begin()->second;
      gap_end = std::next(r.begin()) == r.end() ? first->nbytes() : std::next(r.begin())->first;
    }
  }
  HESSQ_CHECK(incomplete == 0,
              "{}: tensor '{}': bytes [{}, {}) of its {} were never written ({} of {} tensors incomplete)", path_,
              first ? first->name : "", gap_begin, gap_end, first ? first->nbytes() : 0, incomplete, infos_.size());
  bool ok = ::fsync(fd_) == 0;
  int err = errno;
  if (::close(fd_) != 0 && ok) {
    ok = false;
    err = errno;
  }
  fd_ = -1;
  if (ok && ::rename(tmp_.c_str(), path_.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  HESSQ_CHECK(ok, "{}: cannot write: {}", path_, std::strerror(err));  // the destructor removes the .tmp
  committed_ = true;
}

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
  std::vector<TensorDecl> decls;
  decls.reserve(entries.size());
  for (const auto& e : entries) decls.push_back({e.name, e.dtype, e.shape});
  SafetensorsWriter out(path, std::move(decls), metadata);
  for (const auto& e : entries) out.write(e.name, e.data, e.nbytes);
  out.commit();
}

namespace {

// Writes n fp32 values as elements [elem_begin, elem_begin + n) of `name`, stored as `store`;
// F16/BF16 are converted through `scratch` at most kDefaultChunkElems at a time.
void write_f32_elems(SafetensorsWriter& w, const std::string& name, DType store, size_t elem_begin, const float* src,
                     size_t n, std::vector<uint16_t>& scratch) {
  if (store == DType::F32) {
    w.write_part(name, elem_begin * sizeof(float), src, n * sizeof(float));
    return;
  }
  for (size_t off = 0; off < n; off += kDefaultChunkElems) {
    const size_t m = std::min(kDefaultChunkElems, n - off);
    if (scratch.size() < m) scratch.resize(m);
    uint16_t* h = scratch.data();
    const float* s = src + off;
    if (store == DType::F16) {
#pragma omp parallel for if (m > (1u << 16))
      for (size_t i = 0; i < m; ++i) h[i] = f32_to_f16(s[i]);
    } else {
#pragma omp parallel for if (m > (1u << 16))
      for (size_t i = 0; i < m; ++i) h[i] = f32_to_bf16(s[i]);
    }
    w.write_part(name, (elem_begin + off) * sizeof(uint16_t), h, m * sizeof(uint16_t));
  }
}

void check_f32_store(const std::string& path, DType store) {
  HESSQ_CHECK(store == DType::F32 || store == DType::F16 || store == DType::BF16,
              "{}: fp32 tensors can be stored as F32, F16 or BF16, not {}", path, dtype_name(store));
}

}  // namespace

void write_safetensors_f32(const std::string& path, const TensorMap& tensors, DType store,
                           const std::map<std::string, std::string>& metadata) {
  check_f32_store(path, store);
  std::vector<TensorDecl> decls;
  for (const auto& [name, t] : tensors) {
    HESSQ_CHECK(tensor_nbytes(t.shape, DType::F32).has_value(), "{}: tensor '{}': invalid shape {}", path, name,
                shape_str(t.shape));
    HESSQ_CHECK(t.ptr() != nullptr || t.numel() == 0, "{}: tensor '{}': no data", path, name);
    decls.push_back({name, store, t.shape});
  }
  SafetensorsWriter out(path, std::move(decls), metadata);
  std::vector<uint16_t> scratch;
  for (const auto& [name, t] : tensors)
    write_f32_elems(out, name, store, 0, t.ptr(), static_cast<size_t>(t.numel()), scratch);
  out.commit();
}

void write_safetensors_f32_streamed(const std::string& path, const std::map<std::string, Shape>& shapes, DType store,
                                    const F32ChunkSource& fill, const std::map<std::string, std::string>& metadata,
                                    size_t chunk_elems) {
  check_f32_store(path, store);
  HESSQ_CHECK(chunk_elems > 0, "{}: chunk size must be positive", path);
  std::vector<TensorDecl> decls;
  for (const auto& [name, shape] : shapes) decls.push_back({name, store, shape});
  SafetensorsWriter out(path, std::move(decls), metadata);
  std::vector<float> buf;
  std::vector<uint16_t> scratch;
  for (const auto& info : out.tensors()) {  // file order: sequential writes
    const size_t n = info.nbytes() / dtype_size(store);
    for (size_t b = 0; b < n; b += chunk_elems) {
      const size_t e = std::min(n, b + chunk_elems);
      if (buf.size() < e - b) buf.resize(e - b);
      fill(info.name, b, e, buf.data());
      write_f32_elems(out, info.name, store, b, buf.data(), e - b, scratch);
    }
  }
  out.commit();
}

}  // namespace hessq::io
