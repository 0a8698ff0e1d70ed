#include "hessq/eval/svg_chart.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace hessq::eval {

namespace {

constexpr double kWidth = 760, kHeight = 440;
constexpr double kLeft = 64, kRight = 220, kTop = 40, kBottom = 56;  // plot margins (legend on the right)
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                                   "#e377c2", "#17becf", "#7f7f7f", "#bcbd22", "#393b79", "#637939"};

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `n` ticks over `span`.
double nice_step(double span, int n) {
  const double raw = span / n, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

}  // namespace

std::string render_svg(const LineChart& c) {
  double lo = INFINITY, hi = -INFINITY;
  for (const ChartSeries& s : c.series)
    for (double v : s.y)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
  const double step = nice_step(hi - lo, 6);
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  const size_t nx = std::max<size_t>(c.x_ticks.size(), 1);
  auto X = [&](size_t i) { return kLeft + (nx == 1 ? pw / 2 : pw * static_cast<double>(i) / (nx - 1)); };
  auto Y = [&](double v) { return kTop + ph * (1 - (v - lo) / (hi - lo)); };

  std::string o = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      kWidth, kHeight);
  o += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n", kLeft + pw / 2,
                   escape(c.title));
  for (double v = lo; v <= hi + step / 2; v += step) {  // y grid and labels
    o += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", kLeft, Y(v), kLeft + pw,
                     Y(v));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:g}</text>\n", kLeft - 6, Y(v) + 4, v);
  }
  for (size_t i = 0; i < c.x_ticks.size(); ++i)
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", X(i), kTop + ph + 18,
                     escape(c.x_ticks[i]));
  o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", kLeft, kTop,
                   pw, ph);
  o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", kLeft + pw / 2, kHeight - 14,
                   escape(c.x_label));
  o += fmt::format("<text transform=\"translate(16,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n", kTop + ph / 2,
                   escape(c.y_label));
  for (size_t k = 0; k < c.series.size(); ++k) {
    const ChartSeries& s = c.series[k];
    const char* color = kColors[k % std::size(kColors)];
    const std::string dash = s.dashed ? " stroke-dasharray=\"6,4\"" : "";
    std::string pts;
    for (size_t i = 0; i < s.y.size() && i < nx; ++i) {
      if (!std::isfinite(s.y[i])) {
        if (!pts.empty())
          o += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", pts, color, dash);
        pts.clear();
        continue;
      }
      pts += fmt::format("{:.1f},{:.1f} ", X(i), Y(s.y[i]));
      o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", X(i), Y(s.y[i]), color);
    }
    if (!pts.empty())
      o += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", pts, color, dash);
    const double ly = kTop + 8 + 18.0 * static_cast<double>(k);  // legend entry
    o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
                     kLeft + pw + 14, ly, kLeft + pw + 38, ly, color, dash);
    o += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", kLeft + pw + 44, ly + 4, escape(s.label));
  }
  o += "</svg>\n";
  return o;
}

}  // namespace hessq::eval
