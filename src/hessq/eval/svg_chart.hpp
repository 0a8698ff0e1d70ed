// A small self-contained SVG line chart (no dependency): categorical x ticks, linear y axis, one
// polyline per series with markers, optional horizontal reference lines, a legend.
#pragma once
#include <string>
#include <vector>

namespace hessq::eval {

struct ChartSeries {
  std::string label;
  std::vector<double> y;  // one value per x tick; NaN leaves a gap
  bool dashed = false;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<std::string> x_ticks;
  std::vector<ChartSeries> series;
};

std::string render_svg(const LineChart& chart);

}  // namespace hessq::eval
