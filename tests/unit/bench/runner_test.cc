// Request bodies and endpoint URLs (the runner's network loop is exercised end to end by
// tests/api/test_bench.py against real and deliberately broken servers).
#include "bench/runner.h"

#include <gtest/gtest.h>

namespace nagare::bench {
namespace {

using json = nlohmann::json;

TEST(Runner, RequestBodyAddsModelStreamUsageAndExactLength) {
  RunnerOptions o;
  o.model = "smol";
  o.ignore_eos = true;
  json wb = {{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}, {"max_tokens", 32}, {"temperature", 0.1}};
  json b = json::parse(build_request_body(wb, o, {}));
  EXPECT_EQ(b["model"], "smol");
  EXPECT_EQ(b["stream"], true);
  EXPECT_EQ(b["stream_options"]["include_usage"], true);
  EXPECT_EQ(b["ignore_eos"], true);
  EXPECT_EQ(b["min_tokens"], 32);
  EXPECT_EQ(b["max_tokens"], 32);
  EXPECT_DOUBLE_EQ(b["temperature"].get<double>(), 0.1);

  json dropped = json::parse(build_request_body(wb, o, {"min_tokens", "stream_options"}));
  EXPECT_FALSE(dropped.contains("min_tokens"));
  EXPECT_FALSE(dropped.contains("stream_options"));
  EXPECT_TRUE(dropped.contains("ignore_eos"));

  o.stream = false;
  o.ignore_eos = false;
  json plain = json::parse(build_request_body(wb, o, {}));
  EXPECT_EQ(plain["stream"], false);
  EXPECT_FALSE(plain.contains("stream_options"));
  EXPECT_FALSE(plain.contains("ignore_eos"));
  EXPECT_FALSE(plain.contains("min_tokens"));
}

TEST(Runner, EndpointUrls) {
  EXPECT_EQ(endpoint_url("http://127.0.0.1:8080", Endpoint::kChat), "http://127.0.0.1:8080/v1/chat/completions");
  EXPECT_EQ(endpoint_url("http://127.0.0.1:8080/", Endpoint::kCompletions), "http://127.0.0.1:8080/v1/completions");
  EXPECT_EQ(endpoint_url("http://h:1/v1", Endpoint::kChat), "http://h:1/v1/chat/completions");
  EXPECT_EQ(endpoint_url("http://h:1/v1/", Endpoint::kCompletions), "http://h:1/v1/completions");
  EXPECT_EQ(endpoint_url("127.0.0.1:9", Endpoint::kChat), "http://127.0.0.1:9/v1/chat/completions");
  EXPECT_EQ(endpoint_url("http://h/api/v1/chat/completions", Endpoint::kCompletions), "http://h/api/v1/chat/completions");
  EXPECT_EQ(endpoint_url("https://h/openai/v1", Endpoint::kChat), "https://h/openai/v1/chat/completions");
}

TEST(Runner, LevelsNeedABound) {
  WorkloadOptions wo;
  Workload w = Workload::create(wo);
  Progress p(stderr, false);
  RunnerOptions o;
  o.endpoint_url = "http://127.0.0.1:9/v1/chat/completions";
  Runner r(o, w, p);
  LevelPlan plan;
  plan.concurrency = 1;
  EXPECT_ANY_THROW(r.run(plan)) << "neither --num-requests nor --duration";
  plan.concurrency = 0;
  plan.num_requests = 1;
  EXPECT_ANY_THROW(r.run(plan)) << "neither a concurrency nor a rate";
}

TEST(Progress, PlainLinesWhenNotATty) {
  char buf[4096] = {};
  std::FILE* f = fmemopen(buf, sizeof buf - 1, "w");
  ASSERT_NE(f, nullptr);
  {
    Progress p(f, false, 1.0);
    p.begin("concurrency 2", 10, 0);
    p.update(1, 0, 2, 0.5);   // under the interval: nothing
    p.update(3, 1, 2, 1.2);   // printed
    p.update(4, 1, 2, 1.5);   // under the interval again
    p.end(10, 1, 3.0);
  }
  std::fclose(f);
  std::string out(buf);
  EXPECT_NE(out.find("bench: concurrency 2: started\n"), std::string::npos) << out;
  EXPECT_NE(out.find("bench: concurrency 2: 3/10 done, 1 failed, 2 in flight, 1.2s\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("4/10"), std::string::npos) << out;
  EXPECT_NE(out.find("10 done, 1 failed in 3.00s"), std::string::npos);
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no carriage returns in logs";
}

TEST(Progress, BarWhenATty) {
  char buf[4096] = {};
  std::FILE* f = fmemopen(buf, sizeof buf - 1, "w");
  ASSERT_NE(f, nullptr);
  {
    Progress p(f, true);
    p.begin("c1", 4, 0);
    p.update(2, 0, 1, 0.5);
    p.note("hello");
    p.end(4, 0, 1.0);
  }
  std::fclose(f);
  std::string out(buf);
  EXPECT_NE(out.find("\r\033[Kc1 [===============>              ] 2/4 done"), std::string::npos) << out;
  EXPECT_NE(out.find("bench: hello\n"), std::string::npos);
}

}  // namespace
}  // namespace nagare::bench
