// A benchmark run as data: server, configuration, per-level metrics. Written to and read from
// the JSON result file, which --chart and --compare consume (possibly from other machines).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/metrics.h"

namespace nagare::bench {

inline constexpr int kResultFormatVersion = 1;

struct BenchResult {
  std::string source;  // the file it was read from; empty for a fresh run
  std::string label;   // --label, e.g. "nagare" or "llama.cpp"
  std::string url, endpoint_url, model, endpoint, timestamp;
  bool rate_mode = false;  // levels are request rates (req/s), not concurrencies
  bool stream = true;
  nlohmann::json config = nlohmann::json::object();    // the run's flags
  nlohmann::json workload = nlohmann::json::object();  // Workload::describe()
  std::vector<LevelMetrics> levels;
  std::vector<std::string> notes;
  bool interrupted = false;

  // The label, else "model @ url".
  std::string display_name() const;
};

nlohmann::json level_to_json(const LevelMetrics& m, bool rate_mode);
LevelMetrics level_from_json(const nlohmann::json& j, bool rate_mode);  // throws nlohmann::json errors

nlohmann::json result_to_json(const BenchResult& r);
// Throws nagare::Error naming `source` when the JSON is not a result file.
BenchResult result_from_json(const nlohmann::json& j, const std::string& source);

BenchResult load_result(const std::string& path);
void save_result(const BenchResult& r, const std::string& path);

// The UTC time now as 2024-05-01T12:34:56Z.
std::string utc_timestamp();

}  // namespace nagare::bench
