#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>

#include "util/error.h"

namespace nagare::bench {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Fixed decimals that shrink as numbers grow, so columns stay narrow but small values keep digits.
std::string num(double v) {
  double a = std::fabs(v);
  if (a >= 1000) return fmt("%.0f", v);
  if (a >= 100) return fmt("%.1f", v);
  return fmt("%.2f", v);
}

// UTF-8 characters, not bytes, for column widths (labels may be Japanese).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad_left(const std::string& s, size_t w) {
  size_t n = display_width(s);
  return n >= w ? s : std::string(w - n, ' ') + s;
}

std::string level_name(const BenchResult& r) { return r.rate_mode ? "Request Rate" : "Concurrency"; }

}  // namespace

std::string format_level(double level) {
  if (std::isinf(level)) return "inf";
  if (level == std::floor(level) && std::fabs(level) < 1e15) return fmt("%.0f", level);
  return fmt("%g", level);
}

std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    w[c] = display_width(header[c]);
    for (const auto& row : rows)
      if (c < row.size()) w[c] = std::max(w[c], display_width(row[c]));
  }
  std::string out = "|";
  for (size_t c = 0; c < header.size(); ++c) out += " " + pad_left(header[c], w[c]) + " |";
  out += "\n|";
  for (size_t c = 0; c < header.size(); ++c) out += std::string(w[c] + 1, '-') + ":|";
  out += "\n";
  for (const auto& row : rows) {
    out += "|";
    for (size_t c = 0; c < header.size(); ++c) out += " " + pad_left(c < row.size() ? row[c] : "", w[c]) + " |";
    out += "\n";
  }
  return out;
}

std::string format_summary(const BenchResult& r) {
  std::string out;
  out += "nagare bench: " + r.model + " @ " + r.endpoint_url;
  if (!r.label.empty()) out += " [" + r.label + "]";
  out += "\n  workload " + r.workload.value("name", std::string("?")) + ", " + (r.stream ? "streamed" : "not streamed");
  if (!r.timestamp.empty()) out += ", " + r.timestamp;
  out += "\n\n";

  std::vector<std::string> header = {"Concurrency",   "Wall Time (s)", "Avg Latency (s)", "P95 Latency (s)",
                                     "Prompt Tokens", "Compl Tokens",  "Prompt TPS",      "Compl TPS",
                                     "Reqs (Succ/Att)"};
  header[0] = level_name(r);
  std::vector<std::vector<std::string>> rows;
  for (const LevelMetrics& m : r.levels) {
    bool any = m.succeeded > 0;
    rows.push_back({format_level(m.level), fmt("%.2f", m.wall_time_s), any ? fmt("%.2f", m.e2e_ms.mean / 1e3) : "-",
                    any ? fmt("%.2f", m.e2e_ms.p95 / 1e3) : "-", std::to_string(m.prompt_tokens),
                    std::to_string(m.completion_tokens), num(m.prompt_tps), num(m.completion_tps),
                    std::to_string(m.succeeded) + "/" + std::to_string(m.attempted)});
  }
  out += markdown_table(header, rows);

  out += "\nLatency percentiles (ms)\n";
  std::vector<std::vector<std::string>> lat;
  for (const LevelMetrics& m : r.levels) {
    struct Row {
      const char* name;
      const Summary* s;
    };
    bool first = true;
    for (Row row : {Row{"TTFT", &m.ttft_ms}, Row{"TPOT", &m.tpot_ms}, Row{"ITL", &m.itl_ms}, Row{"E2E", &m.e2e_ms}}) {
      const Summary& s = *row.s;
      std::vector<std::string> cells = {first ? format_level(m.level) : "", row.name};
      for (double v : {s.mean, s.p50, s.p90, s.p95, s.p99}) cells.push_back(s.count ? num(v) : "-");
      lat.push_back(std::move(cells));
      first = false;
    }
  }
  out += markdown_table({level_name(r), "Metric", "Mean", "P50", "P90", "P95", "P99"}, lat);

  std::string notes;
  for (const LevelMetrics& m : r.levels) {
    std::string at = (r.rate_mode ? "rate " : "concurrency ") + format_level(m.level);
    if (!m.failures.empty()) {
      // Most frequent reasons first; a long tail of distinct messages is summarized.
      std::vector<std::pair<size_t, std::string>> f;
      for (const auto& [reason, count] : m.failures) f.push_back({count, reason});
      std::stable_sort(f.begin(), f.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      notes += "  " + at + ": " + std::to_string(m.failed) + " failed\n";
      size_t shown = 0, rest = 0;
      for (const auto& [count, reason] : f) {
        if (shown++ < 5) notes += "    " + std::to_string(count) + " x " + reason + "\n";
        else rest += count;
      }
      if (rest) notes += "    " + std::to_string(rest) + " x other reasons\n";
    }
    if (m.cut_off)
      notes += "  " + at + ": " + std::to_string(m.cut_off) + " requests still running at the end (" +
               (m.interrupted ? "interrupted" : "--duration") + ") were not counted\n";
    if (m.usage_missing)
      notes += "  " + at + ": " + std::to_string(m.usage_missing) +
               " responses had no usage counts; their tokens were estimated (prompt 0, one token per chunk)\n";
    if (m.short_outputs && r.config.value("ignore_eos", false))
      notes += "  " + at + ": " + std::to_string(m.short_outputs) +
               " responses were shorter than max_tokens (the server did not honour ignore_eos)\n";
  }
  for (const std::string& n : r.notes) notes += "  " + n + "\n";
  if (r.interrupted) notes += "  the run was interrupted; levels after the last shown were not run\n";
  if (!notes.empty()) out += "\nNotes\n" + notes;
  return out;
}

std::string format_compare(const std::vector<BenchResult>& runs) {
  if (runs.empty()) return "";
  for (const BenchResult& r : runs)
    if (r.rate_mode != runs[0].rate_mode)
      throw Error("cannot compare a concurrency sweep with a request-rate sweep (" + runs[0].source + ", " + r.source + ")");
  std::string out = "Runs (ratios are against [1]):\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const BenchResult& r = runs[i];
    out += "  [" + std::to_string(i + 1) + "] " + r.display_name();
    if (!r.label.empty()) out += " (" + r.model + " @ " + r.url + ")";
    if (!r.source.empty()) out += "  " + r.source;
    out += "\n";
  }
  std::set<double> levels;
  for (const BenchResult& r : runs)
    for (const LevelMetrics& m : r.levels) levels.insert(m.level);
  auto find = [](const BenchResult& r, double level) -> const LevelMetrics* {
    for (const LevelMetrics& m : r.levels)
      if (m.level == level) return &m;
    return nullptr;
  };
  struct Metric {
    const char* title;
    std::function<double(const LevelMetrics&)> get;
    bool latency;  // needs a successful request to mean anything
  };
  const std::vector<Metric> metrics = {
      {"Completion tokens/s", [](const LevelMetrics& m) { return m.completion_tps; }, false},
      {"Prompt tokens/s", [](const LevelMetrics& m) { return m.prompt_tps; }, false},
      {"Requests/s", [](const LevelMetrics& m) { return m.request_throughput; }, false},
      {"Avg latency (s)", [](const LevelMetrics& m) { return m.e2e_ms.mean / 1e3; }, true},
      {"P95 latency (s)", [](const LevelMetrics& m) { return m.e2e_ms.p95 / 1e3; }, true},
      {"TTFT p50 (ms)", [](const LevelMetrics& m) { return m.ttft_ms.count ? m.ttft_ms.p50 : NAN; }, true},
      {"TPOT p50 (ms)", [](const LevelMetrics& m) { return m.tpot_ms.count ? m.tpot_ms.p50 : NAN; }, true},
  };
  for (const Metric& metric : metrics) {
    std::vector<std::string> header = {level_name(runs[0])};
    for (size_t i = 0; i < runs.size(); ++i) header.push_back("[" + std::to_string(i + 1) + "]");
    for (size_t i = 1; i < runs.size(); ++i) header.push_back("[" + std::to_string(i + 1) + "]/[1]");
    std::vector<std::vector<std::string>> rows;
    bool any_value = false;
    for (double level : levels) {
      std::vector<std::string> row = {format_level(level)};
      std::vector<double> v;
      for (const BenchResult& r : runs) {
        const LevelMetrics* m = find(r, level);
        double x = (m && (!metric.latency || m->succeeded > 0)) ? metric.get(*m) : NAN;
        v.push_back(x);
        row.push_back(std::isnan(x) ? "-" : num(x));
        any_value |= !std::isnan(x);
      }
      for (size_t i = 1; i < runs.size(); ++i)
        row.push_back(std::isnan(v[0]) || std::isnan(v[i]) || v[0] == 0 ? "-" : fmt("%.2fx", v[i] / v[0]));
      rows.push_back(std::move(row));
    }
    if (!any_value) continue;  // e.g. TTFT of non-streamed runs
    out += "\n" + std::string(metric.title) + "\n" + markdown_table(header, rows);
  }
  std::vector<std::string> header = {level_name(runs[0])};
  for (size_t i = 0; i < runs.size(); ++i) header.push_back("[" + std::to_string(i + 1) + "] Succ/Att");
  std::vector<std::vector<std::string>> rows;
  for (double level : levels) {
    std::vector<std::string> row = {format_level(level)};
    for (const BenchResult& r : runs) {
      const LevelMetrics* m = find(r, level);
      row.push_back(m ? std::to_string(m->succeeded) + "/" + std::to_string(m->attempted) : "-");
    }
    rows.push_back(std::move(row));
  }
  out += "\nRequests\n" + markdown_table(header, rows);
  return out;
}

}  // namespace nagare::bench
