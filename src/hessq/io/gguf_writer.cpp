#include "hessq/io/gguf_writer.hpp"

#include <algorithm>
#include <cstring>

#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"

namespace hessq::io {

namespace {

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // x86-64 is little-endian, as GGUF
  out.append(b, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void GgufWriter::add_kv(const std::string& key, GgufType type, std::string encoded_value) {
  HESSQ_CHECK(std::find(keys_.begin(), keys_.end(), key) == keys_.end(), "GGUF key '{}' added twice", key);
  keys_.push_back(key);
  put_string(kv_bytes_, key);
  put<uint32_t>(kv_bytes_, static_cast<uint32_t>(type));
  kv_bytes_ += encoded_value;
}

void GgufWriter::add_string(const std::string& key, const std::string& value) {
  std::string v;
  put_string(v, value);
  add_kv(key, GgufType::kString, std::move(v));
}

void GgufWriter::add_u32(const std::string& key, uint32_t value) {
  std::string v;
  put(v, value);
  add_kv(key, GgufType::kUint32, std::move(v));
}

void GgufWriter::add_i32(const std::string& key, int32_t value) {
  std::string v;
  put(v, value);
  add_kv(key, GgufType::kInt32, std::move(v));
}

void GgufWriter::add_f32(const std::string& key, float value) {
  std::string v;
  put(v, value);
  add_kv(key, GgufType::kFloat32, std::move(v));
}

void GgufWriter::add_bool(const std::string& key, bool value) {
  std::string v;
  put<uint8_t>(v, value ? 1 : 0);
  add_kv(key, GgufType::kBool, std::move(v));
}

void GgufWriter::add_string_array(const std::string& key, const std::vector<std::string>& values) {
  std::string v;
  put<uint32_t>(v, static_cast<uint32_t>(GgufType::kString));
  put<uint64_t>(v, values.size());
  for (const std::string& s : values) put_string(v, s);
  add_kv(key, GgufType::kArray, std::move(v));
}

void GgufWriter::add_f32_array(const std::string& key, const std::vector<float>& values) {
  std::string v;
  put<uint32_t>(v, static_cast<uint32_t>(GgufType::kFloat32));
  put<uint64_t>(v, values.size());
  for (float x : values) put(v, x);
  add_kv(key, GgufType::kArray, std::move(v));
}

void GgufWriter::add_i32_array(const std::string& key, const std::vector<int32_t>& values) {
  std::string v;
  put<uint32_t>(v, static_cast<uint32_t>(GgufType::kInt32));
  put<uint64_t>(v, values.size());
  for (int32_t x : values) put(v, x);
  add_kv(key, GgufType::kArray, std::move(v));
}

void GgufWriter::copy_kv(const GgufFile& src, const std::string& key) {
  const GgufType t = src.type(key);
  switch (t) {
    case GgufType::kString: add_string(key, src.get_string(key)); return;
    case GgufType::kUint32: add_u32(key, src.get_u32(key)); return;
    case GgufType::kInt32: add_i32(key, static_cast<int32_t>(src.get_i64(key))); return;
    case GgufType::kFloat32: add_f32(key, src.get_f32(key)); return;
    case GgufType::kBool: add_bool(key, src.get_bool(key)); return;
    case GgufType::kArray:
      switch (src.array_type(key)) {
        case GgufType::kString: add_string_array(key, src.get_string_array(key)); return;
        case GgufType::kFloat32: add_f32_array(key, src.get_f32_array(key)); return;
        case GgufType::kInt32: add_i32_array(key, src.get_i32_array(key)); return;
        default: break;
      }
      break;
    default: break;
  }
  HESSQ_FAIL("{}: key '{}' has type {} which the GGUF writer does not copy", src.path(), key, gguf_type_name(t));
}

void GgufWriter::add_tensor(const std::string& name, const Shape& shape, uint32_t type, Fill fill) {
  for (const TensorEntry& e : tensors_) HESSQ_CHECK(e.name != name, "GGUF tensor '{}' added twice", name);
  HESSQ_CHECK(!shape.empty() && shape.size() <= 4, "GGUF tensor '{}': rank {} (expected 1 to 4)", name, shape.size());
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const uint64_t block = ggml_block_size(type);
  HESSQ_CHECK(block > 0, "GGUF tensor '{}': unknown ggml type {}", name, type);
  HESSQ_CHECK(shape.back() % static_cast<int64_t>(block) == 0,
              "GGUF tensor '{}': rows of {} values do not fill whole {} blocks of {}", name, shape.back(),
              ggml_type_name(type), block);
  tensors_.push_back({name, shape, type, *ggml_nbytes(type, static_cast<uint64_t>(n)), std::move(fill)});
}

void GgufWriter::write(const std::string& path) const {
  std::string head = "GGUF";
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, keys_.size());
  head += kv_bytes_;
  uint64_t offset = 0;
  for (const TensorEntry& e : tensors_) {
    put_string(head, e.name);
    put<uint32_t>(head, static_cast<uint32_t>(e.shape.size()));
    for (auto it = e.shape.rbegin(); it != e.shape.rend(); ++it) put<uint64_t>(head, static_cast<uint64_t>(*it));
    put<uint32_t>(head, e.type);
    put<uint64_t>(head, offset);
    offset = align_up(offset + e.nbytes, kAlignment);
  }
  head.resize(align_up(head.size(), kAlignment), '\0');
  AtomicFile out(path);
  out.write(head);
  std::vector<uint8_t> buf;
  for (const TensorEntry& e : tensors_) {
    buf.assign(align_up(e.nbytes, kAlignment), 0);
    try {
      e.fill(buf.data());
    } catch (const Error& err) {
      HESSQ_FAIL("{}: tensor '{}': {}", path, e.name, err.what());
    }
    out.write(buf.data(), buf.size());
  }
  out.commit();
}

}  // namespace hessq::io
