// A read-only view of a whole file, memory-mapped copy-on-write (writes through the mapping never
// reach the file). Shared so tensor views can keep it alive.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace hessq {

class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path);  // throws hessq::Error
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace hessq
