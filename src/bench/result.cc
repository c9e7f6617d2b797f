#include "bench/result.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>

#include "util/error.h"

namespace nagare::bench {
namespace {

using json = nlohmann::json;

json summary_to_json(const Summary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"min", s.min}, {"max", s.max},
          {"p50", s.p50},     {"p90", s.p90},   {"p95", s.p95}, {"p99", s.p99}};
}

Summary summary_from_json(const json& j) {
  Summary s;
  s.count = j.at("count").get<size_t>();
  s.mean = j.at("mean").get<double>();
  s.min = j.value("min", 0.0);
  s.max = j.value("max", 0.0);
  s.p50 = j.at("p50").get<double>();
  s.p90 = j.at("p90").get<double>();
  s.p95 = j.at("p95").get<double>();
  s.p99 = j.at("p99").get<double>();
  return s;
}

// JSON has no infinity; an unbounded request rate is written as the string "inf".
json level_value(double v) { return std::isinf(v) ? json("inf") : json(v); }
double level_value(const json& j) {
  if (j.is_string() && j.get<std::string>() == "inf") return std::numeric_limits<double>::infinity();
  return j.get<double>();
}

}  // namespace

std::string BenchResult::display_name() const {
  if (!label.empty()) return label;
  // Servers that name a model by its file path (llama-cpp-python) get the file name.
  std::string m = model;
  if (!m.empty() && m[0] == '/') m = m.substr(m.find_last_of('/') + 1);
  return m + " @ " + url;
}

json level_to_json(const LevelMetrics& m, bool rate_mode) {
  json failures = json::array();
  for (const auto& [reason, count] : m.failures) failures.push_back({{"reason", reason}, {"count", count}});
  json j = json::object();
  if (rate_mode) j["request_rate"] = level_value(m.level);
  else j["concurrency"] = int64_t(m.level);
  j["wall_time_s"] = m.wall_time_s;
  j["requests"] = {{"attempted", m.attempted}, {"succeeded", m.succeeded}, {"failed", m.failed}, {"cut_off", m.cut_off}};
  j["failures"] = std::move(failures);
  j["request_throughput"] = m.request_throughput;
  j["prompt_tokens"] = m.prompt_tokens;
  j["completion_tokens"] = m.completion_tokens;
  j["prompt_tps"] = m.prompt_tps;
  j["completion_tps"] = m.completion_tps;
  j["total_tps"] = m.total_tps;
  j["usage_missing"] = m.usage_missing;
  j["short_outputs"] = m.short_outputs;
  j["ttft_ms"] = summary_to_json(m.ttft_ms);
  j["tpot_ms"] = summary_to_json(m.tpot_ms);
  j["itl_ms"] = summary_to_json(m.itl_ms);
  j["e2e_ms"] = summary_to_json(m.e2e_ms);
  if (m.interrupted) j["interrupted"] = true;
  return j;
}

LevelMetrics level_from_json(const json& j, bool rate_mode) {
  LevelMetrics m;
  m.level = rate_mode ? level_value(j.at("request_rate")) : j.at("concurrency").get<double>();
  m.wall_time_s = j.at("wall_time_s").get<double>();
  const json& r = j.at("requests");
  m.attempted = r.at("attempted").get<size_t>();
  m.succeeded = r.at("succeeded").get<size_t>();
  m.failed = r.at("failed").get<size_t>();
  m.cut_off = r.value("cut_off", size_t(0));
  for (const json& f : j.value("failures", json::array())) m.failures[f.at("reason").get<std::string>()] = f.at("count").get<size_t>();
  m.request_throughput = j.at("request_throughput").get<double>();
  m.prompt_tokens = j.at("prompt_tokens").get<int64_t>();
  m.completion_tokens = j.at("completion_tokens").get<int64_t>();
  m.prompt_tps = j.at("prompt_tps").get<double>();
  m.completion_tps = j.at("completion_tps").get<double>();
  m.total_tps = j.value("total_tps", m.prompt_tps + m.completion_tps);
  m.usage_missing = j.value("usage_missing", size_t(0));
  m.short_outputs = j.value("short_outputs", size_t(0));
  m.ttft_ms = summary_from_json(j.at("ttft_ms"));
  m.tpot_ms = summary_from_json(j.at("tpot_ms"));
  m.itl_ms = summary_from_json(j.at("itl_ms"));
  m.e2e_ms = summary_from_json(j.at("e2e_ms"));
  m.interrupted = j.value("interrupted", false);
  return m;
}

json result_to_json(const BenchResult& r) {
  json levels = json::array();
  for (const LevelMetrics& m : r.levels) levels.push_back(level_to_json(m, r.rate_mode));
  json j = {{"tool", "nagare bench"},
            {"format_version", kResultFormatVersion},
            {"timestamp", r.timestamp},
            {"label", r.label},
            {"server", {{"url", r.url}, {"endpoint_url", r.endpoint_url}, {"model", r.model}, {"endpoint", r.endpoint}}},
            {"mode", r.rate_mode ? "request_rate" : "concurrency"},
            {"stream", r.stream},
            {"workload", r.workload},
            {"config", r.config},
            {"levels", std::move(levels)},
            {"notes", r.notes}};
  if (r.interrupted) j["interrupted"] = true;
  return j;
}

BenchResult result_from_json(const json& j, const std::string& source) {
  if (!j.is_object() || j.value("tool", "") != "nagare bench")
    throw Error(source + ": not a nagare bench result file (no \"tool\": \"nagare bench\")");
  int version = j.value("format_version", 0);
  if (version != kResultFormatVersion)
    throw Error(source + ": result format version " + std::to_string(version) + ", this nagare reads " +
                std::to_string(kResultFormatVersion));
  BenchResult r;
  r.source = source;
  try {
    r.timestamp = j.value("timestamp", "");
    r.label = j.value("label", "");
    const json& s = j.at("server");
    r.url = s.value("url", "");
    r.endpoint_url = s.value("endpoint_url", "");
    r.model = s.value("model", "");
    r.endpoint = s.value("endpoint", "");
    r.rate_mode = j.value("mode", "concurrency") == "request_rate";
    r.stream = j.value("stream", true);
    r.workload = j.value("workload", json::object());
    r.config = j.value("config", json::object());
    for (const json& l : j.at("levels")) r.levels.push_back(level_from_json(l, r.rate_mode));
    for (const json& n : j.value("notes", json::array())) r.notes.push_back(n.get<std::string>());
    r.interrupted = j.value("interrupted", false);
  } catch (const json::exception& e) {
    throw Error(source + ": malformed result file: " + e.what());
  }
  return r;
}

BenchResult load_result(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read result file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::parse_error& e) {
    throw Error(path + ": not JSON: " + e.what());
  }
  return result_from_json(j, path);
}

void save_result(const BenchResult& r, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("cannot write result file " + path);
  out << result_to_json(r).dump(2) << '\n';
  if (!out) throw Error("cannot write result file " + path);
}

std::string utc_timestamp() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace nagare::bench
