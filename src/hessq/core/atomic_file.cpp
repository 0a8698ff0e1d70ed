#include "hessq/core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "hessq/core/error.hpp"

namespace fs = std::filesystem;

namespace hessq {

static void check_parent_exists(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  HESSQ_CHECK(fs::is_directory(parent), "{}: output directory {} does not exist", path, parent.string());
}

static void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
  check_parent_exists(path_);
  f_ = std::fopen(tmp_.c_str(), "wb");
  HESSQ_CHECK(f_ != nullptr, "{}: cannot create: {}", tmp_, std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (f_) {
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t n) {
  HESSQ_CHECK(f_ != nullptr, "{}: write after commit", path_);
  HESSQ_CHECK(n == 0 || std::fwrite(data, 1, n, f_) == n, "{}: write failed: {}", tmp_, std::strerror(errno));
}

void AtomicFile::commit() {
  HESSQ_CHECK(f_ != nullptr, "{}: committed twice", path_);
  bool ok = std::fflush(f_) == 0 && ::fsync(fileno(f_)) == 0;
  ok = (std::fclose(f_) == 0) && ok;
  f_ = nullptr;
  if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    std::remove(tmp_.c_str());
    HESSQ_FAIL("{}: cannot write: {}", path_, std::strerror(err));
  }
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  AtomicFile f(path);
  f.write(contents);
  f.commit();
}

AtomicDir::AtomicDir(std::string dir) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  tmp_ = dir_ + ".tmp";
  check_parent_exists(dir_);
  std::error_code ec;
  fs::remove_all(tmp_, ec);
  HESSQ_CHECK(fs::create_directory(tmp_, ec), "{}: cannot create directory: {}", tmp_, ec.message());
}

AtomicDir::~AtomicDir() {
  if (!done_) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

void AtomicDir::commit() {
  std::error_code ec;
  fsync_path(tmp_);
  if (fs::exists(dir_)) fs::remove_all(dir_, ec);
  fs::rename(tmp_, dir_, ec);
  HESSQ_CHECK(!ec, "{}: cannot rename {} into place: {}", dir_, tmp_, ec.message());
  done_ = true;
}

}  // namespace hessq
