#include "bench/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>

#include "bench/openai_response.h"
#include "bench/report.h"
#include "util/error.h"

namespace nagare::bench {
namespace {

constexpr double kWidth = 980;
constexpr double kPanelW = 390, kPanelH = 270;
constexpr double kPanelTop = 70;
constexpr double kPanelLeft[2] = {80, 570};
const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string f1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string tick_label(double v) {
  char buf[32];
  if (v != 0 && (std::fabs(v) >= 1e6 || std::fabs(v) < 1e-3)) std::snprintf(buf, sizeof buf, "%.0e", v);
  else std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

struct Axis {
  std::vector<double> levels;  // categorical positions when `categorical`
  bool categorical = false;
  bool integer = false;  // concurrency levels are whole numbers
  double xmax = 1;
  double x(double level) const {
    if (categorical) {
      size_t i = size_t(std::find(levels.begin(), levels.end(), level) - levels.begin());
      return (double(i) + 0.5) / double(levels.size()) * kPanelW;
    }
    return level / xmax * kPanelW;
  }
};

struct Series {
  std::vector<std::pair<double, double>> points;  // (level, value)
  bool dashed = false;
};

void panel(std::string& svg, int index, const std::string& title, const std::string& ylabel, const std::string& xlabel,
           const Axis& axis, const std::vector<std::vector<Series>>& per_run) {
  double left = kPanelLeft[index], top = kPanelTop;
  double ymax = 0;
  for (const auto& run : per_run)
    for (const Series& s : run)
      for (auto [l, v] : s.points) ymax = std::max(ymax, v);
  std::vector<double> yt = nice_ticks(ymax > 0 ? ymax : 1);
  double ytop = yt.back();
  auto X = [&](double level) { return left + axis.x(level); };
  auto Y = [&](double v) { return top + kPanelH - v / ytop * kPanelH; };

  svg += "<g class=\"panel\">\n";
  svg += "<text x=\"" + f1(left + kPanelW / 2) + "\" y=\"" + f1(top - 14) +
         "\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" + xml_escape(title) + "</text>\n";
  for (double t : yt) {
    svg += "<line x1=\"" + f1(left) + "\" y1=\"" + f1(Y(t)) + "\" x2=\"" + f1(left + kPanelW) + "\" y2=\"" + f1(Y(t)) +
           "\" stroke=\"#e0e0e0\"/>\n";
    svg += "<text x=\"" + f1(left - 6) + "\" y=\"" + f1(Y(t) + 4) + "\" text-anchor=\"end\" font-size=\"11\">" +
           tick_label(t) + "</text>\n";
  }
  std::vector<double> xt;
  if (axis.categorical) xt = axis.levels;
  else xt = nice_ticks(axis.xmax, 5, axis.integer);
  for (double t : xt) {
    svg += "<line x1=\"" + f1(X(t)) + "\" y1=\"" + f1(top + kPanelH) + "\" x2=\"" + f1(X(t)) + "\" y2=\"" +
           f1(top + kPanelH + 4) + "\" stroke=\"#333\"/>\n";
    svg += "<text x=\"" + f1(X(t)) + "\" y=\"" + f1(top + kPanelH + 17) + "\" text-anchor=\"middle\" font-size=\"11\">" +
           xml_escape(format_level(t)) + "</text>\n";
  }
  svg += "<rect x=\"" + f1(left) + "\" y=\"" + f1(top) + "\" width=\"" + f1(kPanelW) + "\" height=\"" + f1(kPanelH) +
         "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg += "<text x=\"" + f1(left + kPanelW / 2) + "\" y=\"" + f1(top + kPanelH + 36) +
         "\" text-anchor=\"middle\" font-size=\"12\">" + xml_escape(xlabel) + "</text>\n";
  svg += "<text transform=\"translate(" + f1(left - 52) + "," + f1(top + kPanelH / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" + xml_escape(ylabel) + "</text>\n";
  for (size_t r = 0; r < per_run.size(); ++r) {
    const char* color = kColors[r % std::size(kColors)];
    for (const Series& s : per_run[r]) {
      if (s.points.empty()) continue;
      std::string pts;
      for (auto [l, v] : s.points) pts += f1(X(l)) + "," + f1(Y(v)) + " ";
      pts.pop_back();
      svg += std::string("<polyline fill=\"none\" stroke=\"") + color + "\" stroke-width=\"2\"" +
             (s.dashed ? " stroke-dasharray=\"6,4\"" : "") + " points=\"" + pts + "\"/>\n";
      for (auto [l, v] : s.points) {
        svg += "<circle cx=\"" + f1(X(l)) + "\" cy=\"" + f1(Y(v)) + "\" r=\"3.5\" fill=\"" +
               (s.dashed ? std::string("white") : std::string(color)) + "\" stroke=\"" + color + "\"><title>" +
               xml_escape(format_level(l) + ": " + tick_label(std::round(v * 1000) / 1000)) + "</title></circle>\n";
      }
    }
  }
  svg += "</g>\n";
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters are not allowed in XML 1.0 at all.
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') out += ' ';
        else out += char(c);
    }
  }
  return out;
}

std::vector<double> nice_ticks(double max, int target_count, bool integer_steps) {
  if (!(max > 0) || !std::isfinite(max)) max = 1;
  double raw = max / std::max(1, target_count);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw && (!integer_steps || step == std::floor(step))) break;
  }
  if (integer_steps && step < 1) step = 1;
  std::vector<double> ticks;
  for (int i = 0;; ++i) {
    double t = step * i;
    ticks.push_back(t);
    if (t >= max * (1 - 1e-12)) break;
  }
  return ticks;
}

std::string render_chart(const std::vector<BenchResult>& runs) {
  if (runs.empty()) throw Error("no results to chart");
  bool rate = runs[0].rate_mode;
  Axis axis;
  std::set<double> all;
  for (const BenchResult& r : runs) {
    if (r.rate_mode != rate) throw Error("cannot chart a concurrency sweep together with a request-rate sweep");
    for (const LevelMetrics& m : r.levels) all.insert(m.level);
  }
  if (all.empty()) throw Error("the results hold no levels to chart");
  axis.levels.assign(all.begin(), all.end());
  // Infinity (rate "inf") has no place on a linear axis; so does a single level.
  axis.categorical = std::isinf(axis.levels.back()) || axis.levels.size() == 1;
  axis.integer = !rate;
  axis.xmax = nice_ticks(axis.levels.back(), 5, axis.integer).back();

  std::vector<std::vector<Series>> tput, lat;
  for (const BenchResult& r : runs) {
    Series t, mean, p95;
    p95.dashed = true;
    for (const LevelMetrics& m : r.levels) {
      t.points.push_back({m.level, m.completion_tps});
      if (m.succeeded) {
        mean.points.push_back({m.level, m.e2e_ms.mean / 1e3});
        p95.points.push_back({m.level, m.e2e_ms.p95 / 1e3});
      }
    }
    for (Series* s : {&t, &mean, &p95})
      std::sort(s->points.begin(), s->points.end());
    tput.push_back({t});
    lat.push_back({mean, p95});
  }
  std::string xlabel = rate ? "Request rate (req/s)" : "Concurrency";
  const double legend_top = kPanelTop + kPanelH + 62;
  const double height = legend_top + double(runs.size()) * 20 + 6;
  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + f1(kWidth) + "\" height=\"" + f1(height) +
         "\" viewBox=\"0 0 " + f1(kWidth) + " " + f1(height) + "\" font-family=\"sans-serif\">\n";
  svg += "<title>nagare bench</title>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  std::string workload = runs[0].workload.value("name", std::string());
  svg += "<text x=\"" + f1(kWidth / 2) + "\" y=\"26\" text-anchor=\"middle\" font-size=\"17\">" +
         xml_escape("nagare bench" + (workload.empty() ? std::string() : ": " + workload)) + "</text>\n";
  panel(svg, 0, "Completion throughput", "tokens/s", xlabel, axis, tput);
  panel(svg, 1, "Latency (solid: mean, dashed: p95)", "seconds", xlabel, axis, lat);
  // Legend: one row per run under the panels.
  for (size_t r = 0; r < runs.size(); ++r) {
    double lx = kPanelLeft[0];
    double y = legend_top + double(r) * 20;
    const char* color = kColors[r % std::size(kColors)];
    svg += "<line x1=\"" + f1(lx) + "\" y1=\"" + f1(y) + "\" x2=\"" + f1(lx + 24) + "\" y2=\"" + f1(y) + "\" stroke=\"" +
           color + "\" stroke-width=\"3\"/>\n";
    svg += "<text x=\"" + f1(lx + 32) + "\" y=\"" + f1(y + 4) + "\" font-size=\"12\">" +
           xml_escape(excerpt(runs[r].display_name(), 120)) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace nagare::bench
