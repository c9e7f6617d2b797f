#include "bench/metrics.h"

namespace nagare::bench {

double request_tpot_s(const RequestRecord& r) {
  if (!r.ok || r.ttft_s < 0 || r.completion_tokens < 2) return -1;
  return (r.e2e_s() - r.ttft_s) / double(r.completion_tokens - 1);
}

LevelMetrics compute_level_metrics(const std::vector<RequestRecord>& records, double level,
                                   double wall_time_s, size_t cut_off) {
  LevelMetrics m;
  m.level = level;
  m.wall_time_s = wall_time_s;
  m.cut_off = cut_off;
  m.attempted = records.size();
  std::vector<double> ttft, tpot, itl, e2e;
  for (const RequestRecord& r : records) {
    if (!r.ok) {
      ++m.failed;
      ++m.failures[r.error.empty() ? std::string("unknown error") : r.error];
      continue;
    }
    ++m.succeeded;
    m.prompt_tokens += r.prompt_tokens;
    m.completion_tokens += r.completion_tokens;
    if (!r.usage_reported) ++m.usage_missing;
    if (r.requested_tokens > 0 && r.completion_tokens < r.requested_tokens) ++m.short_outputs;
    e2e.push_back(r.e2e_s() * 1e3);
    if (r.ttft_s >= 0) ttft.push_back(r.ttft_s * 1e3);
    if (double t = request_tpot_s(r); t >= 0) tpot.push_back(t * 1e3);
    for (double g : r.itl_s) itl.push_back(g * 1e3);
  }
  if (wall_time_s > 0) {
    m.request_throughput = double(m.succeeded) / wall_time_s;
    m.prompt_tps = double(m.prompt_tokens) / wall_time_s;
    m.completion_tps = double(m.completion_tokens) / wall_time_s;
    m.total_tps = m.prompt_tps + m.completion_tps;
  }
  m.ttft_ms = summarize(std::move(ttft));
  m.tpot_ms = summarize(std::move(tpot));
  m.itl_ms = summarize(std::move(itl));
  m.e2e_ms = summarize(std::move(e2e));
  return m;
}

}  // namespace nagare::bench
