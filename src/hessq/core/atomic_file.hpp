// Outputs are written to "<path>.tmp", fsynced and renamed over <path> only when complete, so an
// error or a crash never leaves a partial file under the final name.
#pragma once
#include <cstdio>
#include <string>
#include <string_view>

namespace hessq {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws if the parent directory is missing
  ~AtomicFile();                          // removes the temporary file unless commit() ran
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();  // flush, fsync, rename

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
};

// Whole-file convenience wrapper.
void write_file_atomic(const std::string& path, std::string_view contents);

// Creates a directory output atomically: build into "<dir>.tmp", then rename over <dir>.
class AtomicDir {
 public:
  explicit AtomicDir(std::string dir);  // throws if the parent is missing
  ~AtomicDir();                         // removes the temporary directory unless commit() ran
  const std::string& tmp_path() const { return tmp_; }
  void commit();

 private:
  std::string dir_, tmp_;
  bool done_ = false;
};

}  // namespace hessq
