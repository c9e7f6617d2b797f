// Result files round-trip; the summary table has the documented columns; comparisons give
// ratios against the first run; the SVG chart is well-formed and draws one series per run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <regex>

#include "bench/report.h"
#include "bench/result.h"
#include "bench/runner.h"
#include "bench/svg_chart.h"
#include "util/error.h"

namespace nagare::bench {
namespace {

using json = nlohmann::json;

LevelMetrics level(double lv, double compl_tps, double mean_ms, size_t ok = 10, size_t att = 10) {
  LevelMetrics m;
  m.level = lv;
  m.wall_time_s = 10;
  m.attempted = att;
  m.succeeded = ok;
  m.failed = att - ok;
  if (att > ok) m.failures["HTTP 500: boom"] = att - ok;
  m.prompt_tokens = 1000;
  m.completion_tokens = int64_t(compl_tps * 10);
  m.prompt_tps = 100;
  m.completion_tps = compl_tps;
  m.total_tps = 100 + compl_tps;
  m.request_throughput = double(ok) / 10;
  m.e2e_ms = summarize({mean_ms * 0.5, mean_ms, mean_ms * 1.5});
  m.ttft_ms = summarize({10, 20, 30});
  m.tpot_ms = summarize({5, 6});
  m.itl_ms = summarize({4, 5, 6, 7});
  return m;
}

BenchResult sample(const std::string& label, double scale) {
  BenchResult r;
  r.label = label;
  r.url = "http://127.0.0.1:8080";
  r.endpoint_url = r.url + "/v1/chat/completions";
  r.model = "smol";
  r.endpoint = "chat";
  r.timestamp = "2025-01-01T00:00:00Z";
  r.workload = {{"name", "random"}};
  r.config = {{"ignore_eos", true}};
  r.levels = {level(1, 50 * scale, 1000 / scale), level(5, 200 * scale, 2000 / scale, 9, 10)};
  r.notes = {"a note"};
  return r;
}

TEST(Result, JsonRoundTrip) {
  BenchResult r = sample("nagare", 1);
  BenchResult back = result_from_json(json::parse(result_to_json(r).dump()), "mem");
  EXPECT_EQ(back.label, "nagare");
  EXPECT_EQ(back.model, "smol");
  EXPECT_EQ(back.endpoint_url, r.endpoint_url);
  ASSERT_EQ(back.levels.size(), 2u);
  EXPECT_EQ(level_to_json(back.levels[1], false), level_to_json(r.levels[1], false));
  EXPECT_EQ(back.levels[1].failures.at("HTTP 500: boom"), 1u);
  EXPECT_EQ(back.notes, r.notes);
  json j = result_to_json(r);
  EXPECT_EQ(j["tool"], "nagare bench");
  EXPECT_EQ(j["levels"][0]["concurrency"], 1);
  EXPECT_EQ(j["levels"][1]["requests"]["succeeded"], 9);
  EXPECT_TRUE(j["levels"][0]["ttft_ms"].contains("p99"));
}

TEST(Result, InfiniteRateSurvivesJson) {
  BenchResult r = sample("", 1);
  r.rate_mode = true;
  r.levels[1].level = std::numeric_limits<double>::infinity();
  json j = result_to_json(r);
  EXPECT_EQ(j["levels"][1]["request_rate"], "inf");
  BenchResult back = result_from_json(json::parse(j.dump()), "mem");
  EXPECT_TRUE(std::isinf(back.levels[1].level));
  EXPECT_TRUE(back.rate_mode);
}

TEST(Result, RejectsFilesThatAreNotResults) {
  EXPECT_THROW(result_from_json(json::parse(R"({"a":1})"), "x.json"), Error);
  json j = result_to_json(sample("", 1));
  j["format_version"] = 99;
  EXPECT_THROW(result_from_json(j, "x.json"), Error);
  j = result_to_json(sample("", 1));
  j["levels"][0].erase("wall_time_s");
  try {
    result_from_json(j, "x.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.json: malformed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_result("/nonexistent.json"), Error);
}

TEST(Result, SaveAndLoad) {
  std::string path = ::testing::TempDir() + "bench_result_test_" + std::to_string(::getpid()) + ".json";
  save_result(sample("a", 1), path);
  BenchResult back = load_result(path);
  EXPECT_EQ(back.source, path);
  EXPECT_EQ(back.levels.size(), 2u);
  std::remove(path.c_str());
  EXPECT_TRUE(std::regex_match(utc_timestamp(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
}

TEST(Report, SummaryHasTheDocumentedTable) {
  std::string s = format_summary(sample("", 1));
  EXPECT_NE(s.find(std::string(kSummaryHeader) + "\n"), std::string::npos) << s;
  // concurrency 5: wall 10 s, mean 2 s, p95 of {1,2,3} s = 2.9 s, 9 of 10 succeeded
  EXPECT_NE(s.find("|           5 |         10.00 |            2.00 |            2.90 |"), std::string::npos) << s;
  EXPECT_NE(s.find("9/10 |"), std::string::npos);
  EXPECT_NE(s.find("| Concurrency | Metric |"), std::string::npos);
  for (const char* row : {"TTFT", "TPOT", "ITL", "E2E"}) EXPECT_NE(s.find(row), std::string::npos) << row;
  EXPECT_NE(s.find("1 x HTTP 500: boom"), std::string::npos);
  EXPECT_NE(s.find("a note"), std::string::npos);
}

TEST(Report, SummaryOfFailedAndNonStreamedLevels) {
  BenchResult r = sample("", 1);
  r.levels[0] = compute_level_metrics({}, 1, 0.5);
  RequestRecord bad;
  bad.error = "connection refused (could not connect)";
  r.levels[1] = compute_level_metrics({bad, bad}, 5, 0.1, 3);
  std::string s = format_summary(r);
  EXPECT_NE(s.find("0/2 |"), std::string::npos) << s;
  EXPECT_NE(s.find("2 x connection refused"), std::string::npos);
  EXPECT_NE(s.find("3 requests still running at the end (--duration)"), std::string::npos);
  EXPECT_EQ(s.find("nan"), std::string::npos);
  EXPECT_EQ(s.find("inf"), std::string::npos);
}

TEST(Report, RateModeNamesItsColumn) {
  BenchResult r = sample("", 1);
  r.rate_mode = true;
  r.levels[0].level = 2.5;
  std::string s = format_summary(r);
  EXPECT_NE(s.find("| Request Rate | Wall Time (s) |"), std::string::npos) << s;
  EXPECT_NE(s.find("2.5 |"), std::string::npos);
}

TEST(Report, CompareGivesRatiosAgainstTheFirstRun) {
  BenchResult a = sample("nagare", 1), b = sample("llama.cpp", 0.5);
  b.levels.push_back(level(10, 300, 3000));  // a level only b has
  std::string s = format_compare({a, b});
  EXPECT_NE(s.find("[1] nagare"), std::string::npos) << s;
  EXPECT_NE(s.find("[2] llama.cpp"), std::string::npos);
  // Completion tokens/s at concurrency 5: 200 vs 100 -> 0.50x; latency 2 s vs 4 s -> 2.00x.
  EXPECT_NE(s.find("|           5 | 200.0 | 100.0 |   0.50x |"), std::string::npos) << s;
  EXPECT_NE(s.find("2.00x"), std::string::npos);
  EXPECT_NE(s.find("|          10 |     - | 300.0 |       - |"), std::string::npos) << s;
  EXPECT_NE(s.find("[1] Succ/Att"), std::string::npos);
  BenchResult rate = sample("r", 1);
  rate.rate_mode = true;
  EXPECT_THROW(format_compare({a, rate}), Error);
}

TEST(Report, MarkdownTableAlignsAndWidens) {
  std::string t = markdown_table({"A", "Bee"}, {{"12345", "x"}, {"1", "\xE6\x97\xA5\xE6\x9C\xAC"}});
  EXPECT_EQ(t,
            "|     A | Bee |\n"
            "|------:|----:|\n"
            "| 12345 |   x |\n"
            "|     1 |  \xE6\x97\xA5\xE6\x9C\xAC |\n");
  EXPECT_EQ(format_level(5), "5");
  EXPECT_EQ(format_level(0.25), "0.25");
  EXPECT_EQ(format_level(std::numeric_limits<double>::infinity()), "inf");
}

}  // namespace
}  // namespace nagare::bench
