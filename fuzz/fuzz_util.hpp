// Shared by the fuzz targets (fuzz/fuzz_<parser>.cpp, built with -DHESSQ_FUZZ=ON, run by scripts/fuzz).
// Every parser in hessq reads files by path, so each input is written to a file in a private
// directory (under $TMPDIR, /dev/shm when it exists: memory, not disk) and the parser opens that.
// The contract under test: any input either loads or throws hessq::Error. Any other exception, a
// crash, a sanitizer report, a leak or an allocation beyond libFuzzer's -rss_limit_mb is a finding.
#pragma once
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "hessq/core/error.hpp"

namespace hessq::fuzz {

// The private directory, created once per process and removed at exit.
inline const std::filesystem::path& work_dir() {
  static const std::filesystem::path dir = [] {
    const char* env = std::getenv("TMPDIR");
    const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : (env ? env : "/tmp");
    std::filesystem::path d = base / ("hessq_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(work_dir(), ec); });
    return d;
  }();
  return dir;
}

// Writes the input to work_dir()/name (replacing it) and returns the path.
inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = (work_dir() / name).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// Runs fn; hessq::Error is the expected answer to bad input, anything else escapes to libFuzzer.
template <class Fn>
void expect_clean_error(Fn&& fn) {
  try {
    fn();
  } catch (const hessq::Error&) {
  }
}

// Silences hessq's warnings (a malformed file may legitimately warn on every input).
inline void quiet() { spdlog::set_level(spdlog::level::off); }

}  // namespace hessq::fuzz
