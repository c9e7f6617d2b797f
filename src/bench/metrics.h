// What one request measured, and the per-level aggregate (throughput and latency percentiles)
// computed from many of them. Pure arithmetic: no clocks, no network, so it is unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/stats.h"

namespace nagare::bench {

struct RequestRecord {
  bool ok = false;
  std::string error;  // why it failed, stable across requests so failures group by reason
  long http_status = 0;
  double start_s = 0;  // when it was sent, seconds since the level began
  double end_s = 0;    // when its last byte arrived (or it failed)
  double ttft_s = -1;  // first content chunk after sending; < 0 when not streamed / no content
  std::vector<double> itl_s;  // gaps between consecutive content chunks
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  bool usage_reported = false;  // false: token counts are our estimate, not the server's
  int64_t content_chunks = 0;
  int64_t requested_tokens = 0;  // max_tokens we asked for (0 = none)
  std::string finish_reason;

  double e2e_s() const { return end_s - start_s; }
};

struct LevelMetrics {
  double level = 0;  // the concurrency, or the request rate (req/s; infinity allowed)
  double wall_time_s = 0;
  size_t attempted = 0, succeeded = 0, failed = 0;
  size_t cut_off = 0;  // in flight when --duration ended or the run was interrupted; not counted
  std::map<std::string, size_t> failures;  // reason -> count
  int64_t prompt_tokens = 0, completion_tokens = 0;  // over successful requests
  size_t usage_missing = 0;  // successful requests whose counts were estimated
  size_t short_outputs = 0;  // successful requests that returned fewer tokens than max_tokens
  double request_throughput = 0;  // successful requests per second of wall time
  double prompt_tps = 0, completion_tps = 0, total_tps = 0;
  Summary ttft_ms, tpot_ms, itl_ms, e2e_ms;
  bool interrupted = false;
};

// TPOT of one request: decode time per output token after the first, or < 0 when undefined
// (not streamed, or fewer than two output tokens).
double request_tpot_s(const RequestRecord& r);

// Aggregates one level. Throughputs divide by wall_time_s (the caller's measured span).
LevelMetrics compute_level_metrics(const std::vector<RequestRecord>& records, double level,
                                   double wall_time_s, size_t cut_off = 0);

}  // namespace nagare::bench
