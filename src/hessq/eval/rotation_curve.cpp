#include "hessq/eval/rotation_curve.hpp"

#include <fmt/format.h>

#include "hessq/core/error.hpp"
#include "hessq/eval/svg_chart.hpp"

namespace hessq::eval {

std::string rotation_curve_svg(const nlohmann::ordered_json& r, const std::string& source) {
  HESSQ_CHECK(r.is_object() && r.contains("curve") && r["curve"].contains("objective"),
              "{}: no learned rotation's curve (summary.hero); quantize with hero or spinquant to get one", source);
  const auto& c = r["curve"];
  const size_t steps = c["objective"].size();
  HESSQ_CHECK(steps > 0 && c["quant"].size() == steps && c["cond"].size() == steps,
              "{}: summary.hero.curve: objective, quant and cond must have one value per step", source);
  LineChart chart;
  const double cond0 = c["cond"].front().get<double>(), cond1 = c["cond"].back().get<double>();
  chart.title = fmt::format("{}: best step {} of {}, log condition sum {:.2f} -> {:.2f}", r.value("pass", "rotation"),
                            r.value("best_step", -1), steps - 1, cond0, cond1);
  chart.x_label = "optimizer step";
  chart.y_label = "layer objective";
  // Label every tenth step only: 100+ labels would overlap.
  const size_t every = steps > 20 ? 10 : 1;
  ChartSeries objective{fmt::format("objective (rho {})", r.value("rho", 0.0)), {}, false}, quant{"quantization term", {}, true};
  for (size_t i = 0; i < steps; ++i) {
    chart.x_ticks.push_back(i % every == 0 ? std::to_string(i) : "");
    objective.y.push_back(c["objective"][i].get<double>());
    quant.y.push_back(c["quant"][i].get<double>());
  }
  chart.series = {objective, quant};
  return render_svg(chart);
}

}  // namespace hessq::eval
