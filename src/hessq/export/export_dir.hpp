// ExportDir: a directory output of `hessq export` (an HF checkpoint directory), assembled under the
// side name "<out>.partial" and renamed to <out> only when every file is written, so an error leaves
// no output and no partial directory behind.
//
// Ownership: the side directory receives a marker file, kExportMarker ({"format": "hessq-export",
// target, source, tool version and commit}), first. hessq replaces only directories that hold it:
//   <out> absent                    written
//   <out> holds the marker          replaced with `force` (moved aside, then removed after the rename)
//   <out> anything else             refused (a file, a model written by another tool, ...)
//   "<out>.partial" left by a killed export (it holds the marker) is removed; anything else there is
//   refused.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace hessq::exporting {

inline constexpr const char* kExportMarker = "hessq_export.json";

bool is_hessq_export(const std::string& dir);  // a directory holding kExportMarker

class ExportDir {
 public:
  // `marker` gains "format" and the tool's version and commit. Throws naming `out` as described above.
  ExportDir(std::string out, bool force, nlohmann::ordered_json marker);
  ~ExportDir();  // removes the side directory unless commit() ran
  ExportDir(const ExportDir&) = delete;
  ExportDir& operator=(const ExportDir&) = delete;

  const std::string& side_dir() const { return side_; }
  std::string file(const std::string& name) const;  // a path inside the side directory
  void commit();

 private:
  std::string out_, side_;
  bool force_ = false, done_ = false;
};

}  // namespace hessq::exporting
