// Drives the load: one curl multi loop keeps `concurrency` requests in flight (closed loop) or
// sends at Poisson arrival times (open loop, --request-rate), times every streamed chunk, and
// stops within the per-request timeout and the level's duration. Failures are records, never
// exceptions: an unreachable or broken server still gives a complete (all-failed) level.
#pragma once

#include <atomic>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/metrics.h"
#include "bench/progress.h"
#include "bench/workload.h"

namespace nagare::bench {

struct RunnerOptions {
  std::string endpoint_url;  // the full URL posted to, e.g. http://127.0.0.1:8080/v1/chat/completions
  std::string api_key;
  std::string model;
  Endpoint endpoint = Endpoint::kChat;
  bool stream = true;
  bool ignore_eos = false;  // also sends min_tokens = max_tokens
  double timeout_s = 300;   // per request, connect included
  int max_in_flight = 256;  // open-loop cap (file descriptors are finite)
  const std::atomic<bool>* interrupted = nullptr;  // set by SIGINT: abort and report what finished
};

struct LevelPlan {
  int concurrency = 0;       // > 0: closed loop with this many requests in flight
  double request_rate = 0;   // > 0: open loop, Poisson arrivals at this rate (infinity: all at once)
  int64_t num_requests = 0;  // 0: unbounded (then duration_s bounds the level)
  double duration_s = 0;     // 0: unbounded
  uint64_t seed = 0;         // arrival times
  std::string label;         // for progress lines
};

struct LevelRun {
  std::vector<RequestRecord> records;
  size_t cut_off = 0;       // in flight when the duration ended or the run was interrupted
  double wall_time_s = 0;   // first send to last completion (or the duration's end)
  bool interrupted = false;
};

// Optional request fields that a strict server may reject; the runner stops sending a field
// after a 400/422 that names it and retries that request once without it.
inline const char* const kOptionalFields[] = {"stream_options", "min_tokens", "ignore_eos"};

// The JSON body for a workload request: adds model, stream, usage in streams, and the
// exact-length fields, minus any the server rejected.
std::string build_request_body(const nlohmann::json& workload_body, const RunnerOptions& options,
                               const std::set<std::string>& dropped);

// "http://host:port" -> ".../v1/chat/completions"; a URL ending in /v1 gets the route appended;
// a URL already naming a route is used as given.
std::string endpoint_url(const std::string& base_url, Endpoint endpoint);

// The model ids a server lists at GET /v1/models (for a default --model). Throws nagare::Error
// with the reason when the server cannot be asked or answers with something else.
std::vector<std::string> list_models(const std::string& base_url, const std::string& api_key, double timeout_s);

class Runner {
 public:
  Runner(RunnerOptions options, const Workload& workload, Progress& progress);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Runs one level. Request bodies continue the workload's sequence across levels, so no two
  // requests of a run share a synthetic prompt (which a prefix cache would otherwise reward).
  LevelRun run(const LevelPlan& plan);

  const std::set<std::string>& dropped_fields() const { return dropped_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  struct Transfer;
  Transfer* launch(uint64_t request_index, double now_s, int attempt);
  void release(Transfer* t);
  double now_s() const;

  RunnerOptions opt_;
  const Workload& workload_;
  Progress& progress_;
  void* multi_ = nullptr;  // CURLM*
  std::vector<Transfer*> idle_;  // easy handles kept for reuse
  uint64_t next_index_ = 0;
  std::set<std::string> dropped_;
  std::vector<std::string> notes_;
  double level_start_ = 0;  // steady clock seconds
};

}  // namespace nagare::bench
