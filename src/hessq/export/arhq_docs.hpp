// The README.md and FORMAT.md of an ARHQ artifact (export/arhq_artifact.hpp), from its manifest: the
// layout the reference's tools expect, in words, and what hessq fills differently from the reference
// exporter. Deterministic (the manifest's values only).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace hessq::exporting {

std::string arhq_readme(const nlohmann::ordered_json& manifest);
std::string arhq_format_doc(const nlohmann::ordered_json& manifest);

}  // namespace hessq::exporting
