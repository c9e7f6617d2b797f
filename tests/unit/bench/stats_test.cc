// Percentiles and per-level metrics on synthetic timings whose answers are known by hand
// (and agree with numpy.percentile's default linear interpolation).
#include <gtest/gtest.h>

#include <cmath>

#include "bench/metrics.h"
#include "bench/stats.h"

namespace nagare::bench {
namespace {

TEST(Stats, PercentilesOfOneToHundredMatchNumpy) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted on purpose
  Summary s = summarize(v);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 100);
  // numpy.percentile(range(1, 101), [50, 90, 95, 99]) = 50.5, 90.1, 95.05, 99.01
  EXPECT_NEAR(s.p50, 50.5, 1e-12);
  EXPECT_NEAR(s.p90, 90.1, 1e-12);
  EXPECT_NEAR(s.p95, 95.05, 1e-12);
  EXPECT_NEAR(s.p99, 99.01, 1e-12);
}

TEST(Stats, SmallSamplesInterpolateBetweenNeighbours) {
  // numpy.percentile([10, 20, 40], [50, 90, 95, 99]) = 20, 36, 38, 39.6
  Summary s = summarize({40, 10, 20});
  EXPECT_DOUBLE_EQ(s.p50, 20);
  EXPECT_NEAR(s.p90, 36, 1e-12);
  EXPECT_NEAR(s.p95, 38, 1e-12);
  EXPECT_NEAR(s.p99, 39.6, 1e-12);
  EXPECT_NEAR(s.mean, 70.0 / 3, 1e-12);
}

TEST(Stats, SingleAndEmptySamples) {
  Summary one = summarize({7.5});
  EXPECT_EQ(one.count, 1u);
  for (double v : {one.mean, one.p50, one.p90, one.p95, one.p99, one.min, one.max}) EXPECT_DOUBLE_EQ(v, 7.5);
  Summary none = summarize({});
  EXPECT_EQ(none.count, 0u);
  EXPECT_DOUBLE_EQ(none.mean, 0);
  EXPECT_DOUBLE_EQ(none.p99, 0);
  EXPECT_DOUBLE_EQ(percentile_sorted({}, 50), 0);
}

TEST(Stats, PercentileClampsAndHitsEnds) {
  std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 100), 4);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, -5), 1);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 250), 4);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 50), 2.5);
}

// A streamed request: sent at `start`, first content at start+ttft, then `tokens-1` chunks
// `gap` apart, done at the last chunk.
RequestRecord streamed(double start, double ttft, int tokens, double gap, int prompt) {
  RequestRecord r;
  r.ok = true;
  r.usage_reported = true;
  r.start_s = start;
  r.ttft_s = ttft;
  for (int i = 1; i < tokens; ++i) r.itl_s.push_back(gap);
  r.end_s = start + ttft + gap * (tokens - 1);
  r.prompt_tokens = prompt;
  r.completion_tokens = tokens;
  r.content_chunks = tokens;
  r.requested_tokens = tokens;
  return r;
}

TEST(Metrics, ThroughputAndLatencyOfKnownRequests) {
  // Two requests at concurrency 2 over a 2-second level:
  //   A: ttft 0.5 s, 11 tokens 0.1 s apart -> e2e 1.5 s, tpot 0.1 s
  //   B: ttft 0.2 s, 5 tokens 0.2 s apart  -> e2e 1.0 s, tpot 0.2 s
  std::vector<RequestRecord> recs = {streamed(0.0, 0.5, 11, 0.1, 100), streamed(1.0, 0.2, 5, 0.2, 60)};
  LevelMetrics m = compute_level_metrics(recs, 2, 2.0);
  EXPECT_EQ(m.attempted, 2u);
  EXPECT_EQ(m.succeeded, 2u);
  EXPECT_EQ(m.failed, 0u);
  EXPECT_EQ(m.prompt_tokens, 160);
  EXPECT_EQ(m.completion_tokens, 16);
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(m.prompt_tps, 80.0);
  EXPECT_DOUBLE_EQ(m.completion_tps, 8.0);
  EXPECT_DOUBLE_EQ(m.total_tps, 88.0);
  EXPECT_EQ(m.e2e_ms.count, 2u);
  EXPECT_NEAR(m.e2e_ms.mean, 1250, 1e-9);
  EXPECT_NEAR(m.e2e_ms.p50, 1250, 1e-9);
  EXPECT_NEAR(m.e2e_ms.p95, 1475, 1e-9);  // 1000 + 0.95 * 500
  EXPECT_NEAR(m.ttft_ms.mean, 350, 1e-9);
  EXPECT_NEAR(m.tpot_ms.mean, 150, 1e-9);
  EXPECT_NEAR(m.tpot_ms.p50, 150, 1e-9);
  // ITL pools every gap: ten of 100 ms and four of 200 ms.
  EXPECT_EQ(m.itl_ms.count, 14u);
  EXPECT_NEAR(m.itl_ms.mean, (10 * 100.0 + 4 * 200.0) / 14, 1e-9);
  EXPECT_NEAR(m.itl_ms.p50, 100, 1e-9);
  EXPECT_NEAR(m.itl_ms.p90, 200, 1e-9);
}

TEST(Metrics, FailuresAreCountedByReasonAndExcludedFromTokens) {
  std::vector<RequestRecord> recs = {streamed(0, 0.1, 3, 0.1, 10)};
  for (const char* why : {"HTTP 500: boom", "HTTP 500: boom", "connection refused (could not connect)"}) {
    RequestRecord f;
    f.error = why;
    f.start_s = 0;
    f.end_s = 0.01;
    f.prompt_tokens = 999;  // a failed request's counts never count
    recs.push_back(f);
  }
  LevelMetrics m = compute_level_metrics(recs, 4, 1.0, 2);
  EXPECT_EQ(m.attempted, 4u);
  EXPECT_EQ(m.succeeded, 1u);
  EXPECT_EQ(m.failed, 3u);
  EXPECT_EQ(m.cut_off, 2u);
  ASSERT_EQ(m.failures.size(), 2u);
  EXPECT_EQ(m.failures["HTTP 500: boom"], 2u);
  EXPECT_EQ(m.failures["connection refused (could not connect)"], 1u);
  EXPECT_EQ(m.prompt_tokens, 10);
  EXPECT_EQ(m.e2e_ms.count, 1u);
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.0);
}

TEST(Metrics, NonStreamedRequestsHaveNoTtftTpotOrItl) {
  RequestRecord r;
  r.ok = true;
  r.usage_reported = true;
  r.start_s = 1;
  r.end_s = 3;
  r.prompt_tokens = 7;
  r.completion_tokens = 9;
  LevelMetrics m = compute_level_metrics({r}, 1, 2.0);
  EXPECT_EQ(m.ttft_ms.count, 0u);
  EXPECT_EQ(m.tpot_ms.count, 0u);
  EXPECT_EQ(m.itl_ms.count, 0u);
  EXPECT_DOUBLE_EQ(m.e2e_ms.mean, 2000);
  EXPECT_DOUBLE_EQ(m.completion_tps, 4.5);
  EXPECT_LT(request_tpot_s(r), 0);
}

TEST(Metrics, OneTokenHasNoTpotAndShortOutputsAndMissingUsageAreCounted) {
  RequestRecord one = streamed(0, 0.3, 1, 0, 5);
  EXPECT_LT(request_tpot_s(one), 0);
  RequestRecord shorter = streamed(0, 0.1, 4, 0.1, 5);
  shorter.requested_tokens = 16;
  shorter.usage_reported = false;
  LevelMetrics m = compute_level_metrics({one, shorter}, 1, 1.0);
  EXPECT_EQ(m.tpot_ms.count, 1u);
  EXPECT_EQ(m.short_outputs, 1u);
  EXPECT_EQ(m.usage_missing, 1u);
}

TEST(Metrics, ZeroWallTimeGivesZeroRatesNotInfinity) {
  LevelMetrics m = compute_level_metrics({streamed(0, 0, 2, 0, 1)}, 1, 0.0);
  EXPECT_DOUBLE_EQ(m.request_throughput, 0);
  EXPECT_TRUE(std::isfinite(m.completion_tps));
}

}  // namespace
}  // namespace nagare::bench
