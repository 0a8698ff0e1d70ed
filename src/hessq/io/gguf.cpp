#include "hessq/io/gguf.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "hessq/core/error.hpp"
#include "hessq/core/half.hpp"

namespace hessq::io {

namespace {

constexpr int kMaxDims = 4;         // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 16;  // nested arrays deeper than this are rejected

// Size of a fixed-size metadata value, 0 for strings, arrays and unknown types.
uint64_t fixed_size(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    default: return 0;
  }
}

bool is_known(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string_view load_string(const uint8_t*& p) {
  auto n = load<uint64_t>(p);
  std::string_view s(reinterpret_cast<const char*>(p + 8), n);
  p += 8 + n;
  return s;
}

}  // namespace

std::string_view gguf_type_name(GgufType type) {
  static constexpr std::string_view kNames[] = {"u8",  "i8",   "u16", "i16", "u32", "i32", "f32",
                                                "bool", "str", "arr", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(type);
  return i < std::size(kNames) ? kNames[i] : "?";
}

// Sequential reader over the mapping; every read is bounds-checked with a message naming the file.
class GgufParser {
 public:
  explicit GgufParser(GgufFile& g) : g_(g), base_(g.file_->data()), size_(g.file_->size()) {}

  void parse() {
    const std::string& path = g_.path();
    HESSQ_CHECK(size_ >= 4 && std::memcmp(base_, "GGUF", 4) == 0,
                "{}: not a GGUF file: expected magic \"GGUF\", found {}", path, magic_str());
    pos_ = 4;
    g_.version_ = read<uint32_t>("version");
    HESSQ_CHECK(g_.version_ == 2 || g_.version_ == 3,
                "{}: unsupported GGUF version: expected 2 or 3, found {}", path, g_.version_);
    auto n_tensors = read<uint64_t>("tensor count");
    auto n_kv = read<uint64_t>("kv count");
    // Each kv takes at least 8 + 4 + 1 bytes, each tensor info at least 8 + 4 + 4 + 8.
    HESSQ_CHECK(n_kv <= left() / 13, "{}: kv count {} exceeds what {} bytes can hold", path, n_kv, left());
    for (uint64_t i = 0; i < n_kv; ++i) parse_kv();
    HESSQ_CHECK(n_tensors <= left() / 24, "{}: tensor count {} exceeds what {} bytes can hold", path,
                n_tensors, left());
    for (uint64_t i = 0; i < n_tensors; ++i) parse_tensor_info();
    place_tensors();
  }

 private:
  uint64_t left() const { return size_ - pos_; }

  std::string magic_str() const {
    std::string s;
    for (size_t i = 0; i < std::min<size_t>(size_, 4); ++i) {
      char c = static_cast<char>(base_[i]);
      s += (c >= 32 && c < 127) ? std::string(1, c) : fmt::format("\\x{:02x}", base_[i]);
    }
    return size_ < 4 ? fmt::format("{} bytes", size_) : "\"" + s + "\"";
  }

  void need(uint64_t n, std::string_view what) const {
    HESSQ_CHECK(n <= left(), "{}: truncated: {} needs {} bytes at offset {}, file has {} left",
                g_.path(), what, n, pos_, left());
  }

  template <class T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v = load<T>(base_ + pos_);
    pos_ += sizeof(T);
    return v;
  }

  std::string_view read_string(std::string_view what) {
    auto n = read<uint64_t>(what);
    need(n, what);
    std::string_view s(reinterpret_cast<const char*>(base_ + pos_), n);
    pos_ += n;
    return s;
  }

  // Validates and skips one value of type `t` (for key `key`).
  void skip_value(GgufType t, const std::string& key, int depth) {
    std::string what = fmt::format("value of key '{}'", key);
    if (uint64_t sz = fixed_size(t)) {
      need(sz, what);
      pos_ += sz;
    } else if (t == GgufType::kString) {
      read_string(what);
    } else if (t == GgufType::kArray) {
      HESSQ_CHECK(depth < kMaxArrayDepth, "{}: key '{}': arrays nested deeper than {}", g_.path(), key,
                  kMaxArrayDepth);
      auto [et, count] = read_array_header(key);
      skip_array(et, count, key, depth);
    }
  }

  std::pair<GgufType, uint64_t> read_array_header(const std::string& key) {
    std::string what = fmt::format("array header of key '{}'", key);
    auto et = read<uint32_t>(what);
    HESSQ_CHECK(is_known(et), "{}: key '{}': unknown array element type {} (expected 0..12)", g_.path(),
                key, et);
    auto count = read<uint64_t>(what);
    return {static_cast<GgufType>(et), count};
  }

  void skip_array(GgufType et, uint64_t count, const std::string& key, int depth) {
    uint64_t min_size = fixed_size(et) ? fixed_size(et) : (et == GgufType::kString ? 8 : 12);
    HESSQ_CHECK(count <= left() / min_size,
                "{}: truncated: key '{}' is an array of {} x {}, which needs at least {} bytes; {} left",
                g_.path(), key, count, gguf_type_name(et), count * min_size, left());
    if (fixed_size(et)) {
      pos_ += count * fixed_size(et);
      return;
    }
    for (uint64_t i = 0; i < count; ++i) skip_value(et, key, depth + 1);
  }

  void parse_kv() {
    std::string key(read_string("kv key"));
    auto t = read<uint32_t>(fmt::format("type of key '{}'", key));
    HESSQ_CHECK(is_known(t), "{}: key '{}': unknown value type {} (expected 0..12)", g_.path(), key, t);
    HESSQ_CHECK(!g_.kvs_.count(key), "{}: duplicate key '{}'", g_.path(), key);
    GgufFile::Kv kv{static_cast<GgufType>(t), GgufType::kUint8, 0, nullptr};
    if (kv.type == GgufType::kArray) {
      auto [et, count] = read_array_header(key);
      kv.elem_type = et;
      kv.count = count;
      kv.data = base_ + pos_;
      skip_array(et, count, key, 1);
    } else {
      kv.data = base_ + pos_;
      skip_value(kv.type, key, 0);
    }
    g_.kvs_.emplace(key, kv);
    g_.key_order_.push_back(key);
    if (key == "general.alignment") {
      g_.alignment_ = g_.get_u32(key);
      HESSQ_CHECK(g_.alignment_ > 0 && (g_.alignment_ & (g_.alignment_ - 1)) == 0,
                  "{}: general.alignment must be a power of two, found {}", g_.path(), g_.alignment_);
    }
  }

  void parse_tensor_info() {
    const std::string& path = g_.path();
    GgufTensorInfo info;
    info.name = std::string(read_string("tensor name"));
    auto n_dims = read<uint32_t>(fmt::format("n_dims of tensor '{}'", info.name));
    HESSQ_CHECK(n_dims <= kMaxDims, "{}: tensor '{}': expected at most {} dims, found {}", path, info.name,
                kMaxDims, n_dims);
    // extent = the product of max(ne, 1): it bounds every partial product of the shape, so Shape's
    // int64 numel cannot overflow even when a zero dimension makes the element count 0.
    uint64_t numel = 1, extent = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      auto ne = read<uint64_t>(fmt::format("dims of tensor '{}'", info.name));
      const uint64_t ne1 = std::max<uint64_t>(ne, 1);
      HESSQ_CHECK(ne <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) &&
                      extent <= std::numeric_limits<uint64_t>::max() / 8 / ne1,
                  "{}: tensor '{}': dimension {} = {} is out of range", path, info.name, d, ne);
      numel *= ne;
      extent *= ne1;
      info.shape.insert(info.shape.begin(), static_cast<int64_t>(ne));
    }
    info.type = read<uint32_t>(fmt::format("type of tensor '{}'", info.name));
    auto nbytes = ggml_nbytes(info.type, numel);
    HESSQ_CHECK(nbytes.has_value(), "{}: tensor '{}': unknown ggml type {}", path, info.name, info.type);
    uint64_t block = ggml_block_size(info.type);
    HESSQ_CHECK(info.shape.empty() || info.shape.back() % static_cast<int64_t>(block) == 0,
                "{}: tensor '{}' of type {}: row length {} is not a multiple of the block size {}", path,
                info.name, ggml_type_name(info.type), info.shape.back(), block);
    info.nbytes = *nbytes;
    info.offset = read<uint64_t>(fmt::format("offset of tensor '{}'", info.name));
    HESSQ_CHECK(!g_.tensor_index_.count(info.name), "{}: duplicate tensor '{}'", path, info.name);
    g_.tensor_index_.emplace(info.name, g_.tensors_.size());
    g_.tensors_.push_back(std::move(info));
  }

  // Turns relative offsets into absolute ones and checks each tensor lies inside the file.
  void place_tensors() {
    const std::string& path = g_.path();
    uint64_t align = g_.alignment_;
    uint64_t data_start = (pos_ + align - 1) / align * align;
    for (GgufTensorInfo& t : g_.tensors_) {
      HESSQ_CHECK(t.offset % align == 0, "{}: tensor '{}': offset {} is not a multiple of the alignment {}",
                  path, t.name, t.offset, align);
      HESSQ_CHECK(t.offset <= size_ && data_start <= size_ - t.offset && t.nbytes <= size_ - data_start - t.offset,
                  "{}: truncated: tensor '{}' ({} {}) needs bytes [{}, {}), file has {}", path, t.name,
                  ggml_type_name(t.type), shape_str(t.shape), data_start + t.offset,
                  data_start + t.offset + t.nbytes, size_);
      t.offset += data_start;
    }
  }

  GgufFile& g_;
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

GgufFile GgufFile::open(const std::string& path) {
  GgufFile g;
  g.file_ = MappedFile::open(path);
  GgufParser(g).parse();
  return g;
}

const GgufFile::Kv& GgufFile::kv(const std::string& key) const {
  auto it = kvs_.find(key);
  HESSQ_CHECK(it != kvs_.end(), "{}: missing key '{}'", path(), key);
  return it->second;
}

GgufType GgufFile::type(const std::string& key) const { return kv(key).type; }

GgufType GgufFile::array_type(const std::string& key) const {
  const Kv& v = kv(key);
  HESSQ_CHECK(v.type == GgufType::kArray, "{}: key '{}': expected arr, found {}", path(), key,
              gguf_type_name(v.type));
  return v.elem_type;
}

uint64_t GgufFile::array_size(const std::string& key) const {
  array_type(key);
  return kv(key).count;
}

int64_t GgufFile::integer(const std::string& key, const Kv& v) const {
  const uint8_t* p = v.data;
  switch (v.type) {
    case GgufType::kUint8: return load<uint8_t>(p);
    case GgufType::kInt8: return load<int8_t>(p);
    case GgufType::kUint16: return load<uint16_t>(p);
    case GgufType::kInt16: return load<int16_t>(p);
    case GgufType::kUint32: return load<uint32_t>(p);
    case GgufType::kInt32: return load<int32_t>(p);
    case GgufType::kInt64: return load<int64_t>(p);
    case GgufType::kUint64: {
      auto u = load<uint64_t>(p);
      HESSQ_CHECK(u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                  "{}: key '{}': value {} does not fit in i64", path(), key, u);
      return static_cast<int64_t>(u);
    }
    default:
      HESSQ_FAIL("{}: key '{}': expected an integer, found {}", path(), key, gguf_type_name(v.type));
  }
}

std::string GgufFile::get_string(const std::string& key) const {
  const Kv& v = kv(key);
  HESSQ_CHECK(v.type == GgufType::kString, "{}: key '{}': expected str, found {}", path(), key,
              gguf_type_name(v.type));
  const uint8_t* p = v.data;
  return std::string(load_string(p));
}

int64_t GgufFile::get_i64(const std::string& key) const { return integer(key, kv(key)); }

uint32_t GgufFile::get_u32(const std::string& key) const {
  int64_t x = get_i64(key);
  HESSQ_CHECK(x >= 0 && x <= std::numeric_limits<uint32_t>::max(), "{}: key '{}': value {} does not fit in u32",
              path(), key, x);
  return static_cast<uint32_t>(x);
}

float GgufFile::get_f32(const std::string& key) const {
  const Kv& v = kv(key);
  if (v.type == GgufType::kFloat32) return load<float>(v.data);
  if (v.type == GgufType::kFloat64) return static_cast<float>(load<double>(v.data));
  HESSQ_FAIL("{}: key '{}': expected f32, found {}", path(), key, gguf_type_name(v.type));
}

bool GgufFile::get_bool(const std::string& key) const {
  const Kv& v = kv(key);
  HESSQ_CHECK(v.type == GgufType::kBool, "{}: key '{}': expected bool, found {}", path(), key,
              gguf_type_name(v.type));
  return load<uint8_t>(v.data) != 0;
}

std::optional<std::string> GgufFile::find_string(const std::string& key) const {
  return has(key) ? std::optional(get_string(key)) : std::nullopt;
}
std::optional<uint32_t> GgufFile::find_u32(const std::string& key) const {
  return has(key) ? std::optional(get_u32(key)) : std::nullopt;
}
std::optional<int64_t> GgufFile::find_i64(const std::string& key) const {
  return has(key) ? std::optional(get_i64(key)) : std::nullopt;
}
std::optional<float> GgufFile::find_f32(const std::string& key) const {
  return has(key) ? std::optional(get_f32(key)) : std::nullopt;
}
std::optional<bool> GgufFile::find_bool(const std::string& key) const {
  return has(key) ? std::optional(get_bool(key)) : std::nullopt;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const Kv& v = kv(key);
  HESSQ_CHECK(v.type == GgufType::kArray && v.elem_type == GgufType::kString,
              "{}: key '{}': expected arr[str], found {}", path(), key, value_str(key));
  std::vector<std::string> out;
  out.reserve(v.count);
  const uint8_t* p = v.data;
  for (uint64_t i = 0; i < v.count; ++i) out.emplace_back(load_string(p));
  return out;
}

std::vector<float> GgufFile::get_f32_array(const std::string& key) const {
  const Kv& v = kv(key);
  std::vector<float> out(v.type == GgufType::kArray ? v.count : 0);
  if (v.type == GgufType::kArray && v.elem_type == GgufType::kFloat32) {
    if (v.count) std::memcpy(out.data(), v.data, 4 * v.count);
  } else if (v.type == GgufType::kArray && v.elem_type == GgufType::kFloat64) {
    for (uint64_t i = 0; i < v.count; ++i) out[i] = static_cast<float>(load<double>(v.data + 8 * i));
  } else {
    HESSQ_FAIL("{}: key '{}': expected arr[f32], found {}", path(), key, value_str(key));
  }
  return out;
}

std::vector<int32_t> GgufFile::get_i32_array(const std::string& key) const {
  const Kv& v = kv(key);
  HESSQ_CHECK(v.type == GgufType::kArray && fixed_size(v.elem_type) && v.elem_type != GgufType::kFloat32 &&
                  v.elem_type != GgufType::kFloat64 && v.elem_type != GgufType::kBool,
              "{}: key '{}': expected arr[i32], found {}", path(), key, value_str(key));
  std::vector<int32_t> out(v.count);
  uint64_t sz = fixed_size(v.elem_type);
  for (uint64_t i = 0; i < v.count; ++i) {
    int64_t x = integer(key, Kv{v.elem_type, GgufType::kUint8, 0, v.data + sz * i});
    HESSQ_CHECK(x >= std::numeric_limits<int32_t>::min() && x <= std::numeric_limits<int32_t>::max(),
                "{}: key '{}': element {} = {} does not fit in i32", path(), key, i, x);
    out[i] = static_cast<int32_t>(x);
  }
  return out;
}

std::string GgufFile::value_str(const std::string& key) const {
  const Kv& v = kv(key);
  switch (v.type) {
    case GgufType::kArray: return fmt::format("[{} x {}]", gguf_type_name(v.elem_type), v.count);
    case GgufType::kString: {  // one line, at most kMaxShown characters
      constexpr size_t kMaxShown = 80;
      std::string s = get_string(key), out;
      for (char c : s.substr(0, kMaxShown)) out += c == '\n' ? std::string("\\n") : std::string(1, c);
      return s.size() > kMaxShown ? out + fmt::format("... ({} bytes)", s.size()) : out;
    }
    case GgufType::kBool: return get_bool(key) ? "true" : "false";
    case GgufType::kFloat32: return fmt::format("{}", load<float>(v.data));
    case GgufType::kFloat64: return fmt::format("{}", load<double>(v.data));
    case GgufType::kUint64: return fmt::format("{}", load<uint64_t>(v.data));
    default: return fmt::format("{}", integer(key, v));
  }
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* t = find_tensor(name);
  HESSQ_CHECK(t != nullptr, "{}: missing tensor '{}'", path(), name);
  return *t;
}

const uint8_t* GgufFile::tensor_data(const std::string& name) const {
  return file_->data() + tensor(name).offset;
}

Tensor GgufFile::tensor_f32(const std::string& name) const {
  const GgufTensorInfo& t = tensor(name);
  uint8_t* p = file_->data() + t.offset;
  auto type = static_cast<GgmlType>(t.type);
  if (type == GgmlType::kF32 && t.offset % alignof(float) == 0) {
    return Tensor::view(t.shape, reinterpret_cast<float*>(p), file_);
  }
  HESSQ_CHECK(type == GgmlType::kF32 || type == GgmlType::kF16 || type == GgmlType::kBF16,
              "{}: tensor '{}': expected type F32, F16 or BF16, found {}", path(), name,
              ggml_type_name(t.type));
  Tensor out = Tensor::zeros(t.shape);
  float* dst = out.ptr();
  int64_t n = out.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (type == GgmlType::kF32) dst[i] = load<float>(p + 4 * i);
    else if (type == GgmlType::kF16) dst[i] = f16_to_f32(load<uint16_t>(p + 2 * i));
    else dst[i] = bf16_to_f32(load<uint16_t>(p + 2 * i));
  }
  return out;
}

StoredTensor GgufFile::stored(const std::string& name, const std::string& as_name) const {
  const GgufTensorInfo& info = tensor(name);
  StoredTensor t;
  t.name = as_name;
  t.shape = info.shape;
  switch (static_cast<GgmlType>(info.type)) {
    case GgmlType::kF32: t.dtype = DType::F32; break;
    case GgmlType::kF16: t.dtype = DType::F16; break;
    case GgmlType::kBF16: t.dtype = DType::BF16; break;
    default: t.ggml_type = info.type; break;
  }
  t.data = file_->data() + info.offset;
  t.nbytes = info.nbytes;
  t.owner = file_;
  t.file = path();
  t.mapped = true;
  return t;
}

}  // namespace hessq::io
