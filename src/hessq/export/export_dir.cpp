#include "hessq/export/export_dir.hpp"

#include <filesystem>

#include "hessq/commit.hpp"
#include "hessq/core/atomic_file.hpp"
#include "hessq/core/error.hpp"

namespace fs = std::filesystem;

namespace hessq::exporting {

bool is_hessq_export(const std::string& dir) {
  return fs::is_directory(dir) && fs::is_regular_file(fs::path(dir) / kExportMarker);
}

ExportDir::ExportDir(std::string out, bool force, nlohmann::ordered_json marker)
    : out_(std::move(out)), force_(force) {
  while (out_.size() > 1 && out_.back() == '/') out_.pop_back();
  side_ = out_ + ".partial";
  const fs::path parent = fs::path(out_).parent_path();
  HESSQ_CHECK(parent.empty() || fs::is_directory(parent), "{}: output directory {} does not exist", out_,
              parent.string());
  if (fs::exists(out_) || fs::is_symlink(out_)) {
    HESSQ_CHECK(is_hessq_export(out_) && !fs::is_symlink(out_),
                "{}: exists and was not written by hessq export; refusing to overwrite it (choose another --out or "
                "remove it)",
                out_);
    HESSQ_CHECK(force_, "{}: already holds an export; pass --force to replace it", out_);
  }
  if (fs::exists(side_) || fs::is_symlink(side_)) {
    HESSQ_CHECK(is_hessq_export(side_) && !fs::is_symlink(side_),
                "{}: exists and is not an interrupted hessq export; remove it", side_);
    fs::remove_all(side_);
  }
  std::error_code ec;
  HESSQ_CHECK(fs::create_directory(side_, ec), "{}: cannot create directory: {}", side_, ec.message());
  nlohmann::ordered_json j = {{"format", "hessq-export"}};
  for (auto& [k, v] : marker.items()) j[k] = v;
  j["tool"] = {{"name", "hessq"}, {"version", HESSQ_VERSION}, {"commit", HESSQ_COMMIT}};
  write_file_atomic(file(kExportMarker), j.dump(2) + "\n");
}

ExportDir::~ExportDir() {
  if (!done_) {
    std::error_code ec;
    fs::remove_all(side_, ec);
  }
}

std::string ExportDir::file(const std::string& name) const { return (fs::path(side_) / name).string(); }

void ExportDir::commit() {
  // A replaced output is moved aside first, so a kill between the renames loses neither.
  std::error_code ec;
  const std::string old = out_ + ".replaced";
  if (fs::exists(out_)) {
    HESSQ_CHECK(force_ && is_hessq_export(out_), "{}: appeared during the export; refusing to overwrite it", out_);
    HESSQ_CHECK(!fs::exists(old) || is_hessq_export(old), "{}: exists and was not written by hessq export; remove it",
                old);
    fs::remove_all(old, ec);
    fs::rename(out_, old, ec);
    HESSQ_CHECK(!ec, "{}: cannot move the previous output aside: {}", out_, ec.message());
  }
  fs::rename(side_, out_, ec);
  HESSQ_CHECK(!ec, "{}: cannot rename {} into place: {}", out_, side_, ec.message());
  done_ = true;
  fs::remove_all(old, ec);
}

}  // namespace hessq::exporting
