// TestGgufWriter: builds GGUF files byte by byte for tests (metadata of every type, tensors of any
// ggml type from their raw bytes), independently of the reader under test.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hessq/io/gguf.hpp"

namespace hessq::test {

using io::GgufType;

// A tiny GGUF writer, enough to build test files byte by byte.
class TestGgufWriter {
 public:
  template <class T>
  static void put(std::string& b, T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  static void put_str(std::string& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    b += s;
  }

  template <class T>
  void kv(const std::string& key, GgufType t, T v) {
    put_str(kvs_, key);
    put<uint32_t>(kvs_, static_cast<uint32_t>(t));
    put<T>(kvs_, v);
    ++n_kv_;
  }
  void kv_str(const std::string& key, const std::string& v) {
    put_str(kvs_, key);
    put<uint32_t>(kvs_, static_cast<uint32_t>(GgufType::kString));
    put_str(kvs_, v);
    ++n_kv_;
  }
  // `payload` is the already-encoded array body (element type, count, elements).
  void kv_raw_array(const std::string& key, const std::string& payload) {
    put_str(kvs_, key);
    put<uint32_t>(kvs_, static_cast<uint32_t>(GgufType::kArray));
    kvs_ += payload;
    ++n_kv_;
  }
  static std::string str_array(const std::vector<std::string>& v) {
    std::string b;
    put<uint32_t>(b, static_cast<uint32_t>(GgufType::kString));
    put<uint64_t>(b, v.size());
    for (const auto& s : v) put_str(b, s);
    return b;
  }
  template <class T>
  static std::string array(GgufType t, const std::vector<T>& v) {
    std::string b;
    put<uint32_t>(b, static_cast<uint32_t>(t));
    put<uint64_t>(b, v.size());
    for (T x : v) put<T>(b, x);
    return b;
  }

  // `ne` in ggml order (contiguous dimension first); `data` is the raw tensor bytes.
  void tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, const std::string& data) {
    put_str(infos_, name);
    put<uint32_t>(infos_, static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) put<uint64_t>(infos_, d);
    put<uint32_t>(infos_, type);
    data_.resize((data_.size() + alignment - 1) / alignment * alignment, '\0');
    put<uint64_t>(infos_, data_.size());
    data_ += data;
    ++n_tensors_;
  }

  std::string bytes(uint32_t version = 3) const {
    std::string b = "GGUF";
    put<uint32_t>(b, version);
    put<uint64_t>(b, n_tensors_);
    put<uint64_t>(b, n_kv_);
    b += kvs_ + infos_;
    if (n_tensors_ > 0) b.resize((b.size() + alignment - 1) / alignment * alignment, '\0');
    return b + data_;
  }

  uint64_t alignment = 32;

 private:
  std::string kvs_, infos_, data_;
  uint64_t n_kv_ = 0, n_tensors_ = 0;
};

}  // namespace hessq::test
