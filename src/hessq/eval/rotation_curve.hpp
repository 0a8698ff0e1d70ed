// The learned rotation's optimizer curve (hero / spinquant pass, METHODS.md "HeRo-Q") as an SVG line
// chart: the objective and its quantization term per step, from the pass's report (hessq.json
// summary.hero). `hessq inspect MODEL.hessq --curve-svg FILE` writes it.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace hessq::eval {

// Throws naming `source` when the report has no curve (a model quantized without a learned rotation).
std::string rotation_curve_svg(const nlohmann::ordered_json& hero_report, const std::string& source);

}  // namespace hessq::eval
