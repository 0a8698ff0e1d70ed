// Shared test helpers: paths to the real assets in ../shared and a scratch directory per test.
#pragma once
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace hessq::test {

inline std::string shared_path(const std::string& rel) { return std::string(HESSQ_SHARED_DIR) + "/" + rel; }
inline std::string stories_bin() { return shared_path("models/stories260K/stories260K.bin"); }
inline std::string stories_tok() { return shared_path("models/stories260K/tok512.bin"); }

// A fresh, empty directory named after the running test, under the system temp dir.
inline std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             (std::string("hessq_test_") + info->test_suite_name() + "_" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace hessq::test
