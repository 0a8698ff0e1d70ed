// Temporary files for tests: a directory that is removed with everything in it when the test that
// made it ends, whether the test passed or failed.
//
//   const test::TempDir dir;                       // hessq_test_<Suite>_<Test>_XXXXXX under $TMPDIR or /tmp
//   write_something((dir / "m.safetensors").string());
//
// Removal is the destructor's: a failed ASSERT_* returns from the test body and an exception unwinds
// it, and both run the destructors of the test's locals, so a failing test cleans up as a passing one
// does (only a crash or a kill leaves the directory behind). Names are unique (mkdtemp), so the same
// test run twice at once (two build directories, ctest -j, several engineers on one machine) never
// shares or deletes another run's files.
#pragma once
#include <stdlib.h>  // mkdtemp

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace hessq::test {

class TempDir {
 public:
  // Named after the running test (a plain "hessq_test" prefix outside a test body).
  TempDir() : TempDir(running_test_prefix()) {}

  // `prefix` is used as the start of the directory name; characters other than [A-Za-z0-9_.-] become '_'.
  explicit TempDir(const std::string& prefix) {
    std::string name;
    for (char c : prefix.substr(0, 120))
      name += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') ? c : '_';
    std::string tmpl = (std::filesystem::temp_directory_path() / (name + "_XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
      throw std::runtime_error("TempDir: mkdtemp(" + tmpl + ") failed: " + std::strerror(errno));
    path_ = buf.data();
  }

  ~TempDir() { remove(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  TempDir& operator=(TempDir&& o) noexcept {
    if (this != &o) {
      remove();
      path_ = std::exchange(o.path_, {});
    }
    return *this;
  }

  const std::filesystem::path& path() const { return path_; }
  std::string string() const { return path_.string(); }
  std::filesystem::path operator/(const std::filesystem::path& rel) const { return path_ / rel; }
  operator const std::filesystem::path&() const { return path_; }  // pass it where a path is taken

 private:
  static std::string running_test_prefix() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    if (info == nullptr) return "hessq_test";
    return std::string("hessq_test_") + info->test_suite_name() + "_" + info->name();
  }
  void remove() noexcept {  // never throws: it runs in destructors, also while a failure unwinds
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    path_.clear();
  }

  std::filesystem::path path_;
};

namespace detail {

// Owns the directory scratch_dir() hands out and drops it when the running test ends (gtest calls
// OnTestEnd after a failing test as after a passing one).
class ScratchDirListener : public ::testing::EmptyTestEventListener {
 public:
  static ScratchDirListener& instance() {
    static ScratchDirListener* const l = [] {
      auto* p = new ScratchDirListener;
      ::testing::UnitTest::GetInstance()->listeners().Append(p);  // gtest owns it from here
      return p;
    }();
    return *l;
  }
  const std::filesystem::path& current() {
    if (!dir_) dir_.emplace();
    return dir_->path();
  }
  void OnTestEnd(const ::testing::TestInfo&) override { dir_.reset(); }

 private:
  std::optional<TempDir> dir_;
};

}  // namespace detail

// The running test's scratch directory: created on the first call, the same directory on later calls
// in that test, and removed (with its contents) when the test ends, pass or fail. Kept for tests that
// still call it (tests/pipeline); new tests declare a TempDir, whose lifetime is visible in the test.
inline std::filesystem::path scratch_dir() { return detail::ScratchDirListener::instance().current(); }

}  // namespace hessq::test
