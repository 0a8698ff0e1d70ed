// Shared test helpers: paths to the real assets in ../shared, temporary directories that are
// removed at the end of each test (test_util/temp_dir.hpp: TempDir, scratch_dir), and error_of.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "hessq/core/error.hpp"
#include "test_util/temp_dir.hpp"

namespace hessq::test {

inline std::string shared_path(const std::string& rel) { return std::string(HESSQ_SHARED_DIR) + "/" + rel; }
inline std::string stories_bin() { return shared_path("models/stories260K/stories260K.bin"); }
inline std::string stories_tok() { return shared_path("models/stories260K/tok512.bin"); }

// The message of the hessq::Error that fn throws, or "<no error>".
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace hessq::test
