// Shared test helpers: paths to the real assets in ../shared, and temporary directories that are
// removed at the end of each test (test_util/temp_dir.hpp: TempDir, scratch_dir).
#pragma once
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "test_util/temp_dir.hpp"

namespace hessq::test {

inline std::string shared_path(const std::string& rel) { return std::string(HESSQ_SHARED_DIR) + "/" + rel; }
inline std::string stories_bin() { return shared_path("models/stories260K/stories260K.bin"); }
inline std::string stories_tok() { return shared_path("models/stories260K/tok512.bin"); }

}  // namespace hessq::test
