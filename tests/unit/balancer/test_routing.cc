#include <gtest/gtest.h>

#include <map>
#include <string>

#include "balancer/balancer.h"
#include "balancer/routing_key.h"

namespace nagare {
namespace {

std::string chat(const std::string& system, const std::string& user) {
  return R"({"model":"m","messages":[{"role":"system","content":")" + system + R"("},{"role":"user","content":")" + user +
         R"("}]})";
}

TEST(RoutingKey, SharedMessagesGiveSharedPrefixes) {
  const std::string a = routing_key(chat("You are a pirate.", "Hi"));
  const std::string b = routing_key(chat("You are a pirate.", "Bye"));
  ASSERT_FALSE(a.empty());
  const size_t common = std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin();
  EXPECT_GE(common, std::string("m\x1dsystem\x1fYou are a pirate.\x1euser\x1f").size());
  // Another model is another cache.
  EXPECT_NE(routing_key(R"({"model":"x","prompt":"Hi"})").substr(0, 2), routing_key(R"({"model":"m","prompt":"Hi"})").substr(0, 2));
  // OpenAI content parts count by their text.
  EXPECT_EQ(routing_key(R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]})"),
            routing_key(R"({"model":"m","messages":[{"role":"user","content":"Hi"}]})"));
  EXPECT_EQ(routing_key("not json"), "");
  EXPECT_LE(routing_key(R"({"prompt":")" + std::string(200000, 'a') + R"("})").size(), kMaxRoutingKey);
}

TEST(RoutingKey, TheAnswerExtendsTheKeyAsTheNextTurnSendsIt) {
  const std::string turn1 = R"({"model":"m","messages":[{"role":"user","content":"Hi"}]})";
  const std::string turn2 =
      R"({"model":"m","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello there"},{"role":"user","content":"More"}]})";
  const std::string sse =
      "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\ndata: [DONE]\n\n";
  EXPECT_EQ(answer_text("text/event-stream", sse), "Hello there");
  EXPECT_EQ(answer_text("application/x-ndjson", "{\"message\":{\"content\":\"Hello\"}}\n{\"message\":{\"content\":\" there\"}}\n"),
            "Hello there");
  EXPECT_EQ(answer_text("application/json", R"({"choices":[{"message":{"content":"Hello there"}}]})"), "Hello there");
  const std::string extended = key_with_answer(routing_key(turn1), "Hello there");
  EXPECT_EQ(routing_key(turn2).substr(0, extended.size()), extended);
}

BalancerOptions options(Policy p) {
  BalancerOptions o;
  o.policy = p;
  return o;
}

TEST(Balancer, CacheAwareKeepsAPrefixOnItsWorkerAndSpreadsNewOnes) {
  Balancer b(options(Policy::kCacheAware));
  b.add("127.0.0.1:1", "test");
  b.add("127.0.0.1:2", "test");
  std::map<std::string, int> tenant_worker;
  for (int round = 0; round < 5; ++round)
    for (int t = 0; t < 6; ++t) {
      const std::string key = routing_key(chat("tenant " + std::to_string(t) + std::string(300, 'x'), "q" + std::to_string(round)));
      const Balancer::Choice c = b.choose(key);
      ASSERT_TRUE(c.worker);
      if (round == 0) {
        tenant_worker[std::to_string(t)] = c.worker->id;
        EXPECT_FALSE(c.cache_hit);
      } else {
        EXPECT_TRUE(c.cache_hit);
        EXPECT_EQ(c.worker->id, tenant_worker[std::to_string(t)]) << "tenant " << t << " moved";
      }
    }
  int on_first = 0;
  for (const auto& [t, w] : tenant_worker) on_first += w == 0;
  EXPECT_EQ(on_first, 3);  // idle workers: new prefixes alternate
}

TEST(Balancer, LoadWinsOverCacheWhenImbalanced) {
  BalancerOptions o = options(Policy::kCacheAware);
  o.balance_abs = 2;
  o.balance_rel = 1.5;
  Balancer b(o);
  auto w0 = b.add("127.0.0.1:1", "test");
  auto w1 = b.add("127.0.0.1:2", "test");
  const std::string key = routing_key(chat(std::string(500, 's'), "q"));
  const auto first = b.choose(key).worker;
  first->in_flight = 2;  // 2 vs 0: within balance_abs, the cache wins
  const auto again = b.choose(key);
  EXPECT_EQ(again.worker, first);
  EXPECT_TRUE(again.cache_hit);
  first->in_flight = 3;  // 3 vs 0: more than 2 apart and more than 1.5 times: the load wins
  const auto next = b.choose(key);
  EXPECT_NE(next.worker, first);
  EXPECT_FALSE(next.cache_hit);
  (void)w0;
  (void)w1;
}

TEST(Balancer, UnhealthyAndExcludedWorkersAreSkipped) {
  BalancerOptions o = options(Policy::kRoundRobin);
  o.health_failures = 2;
  Balancer b(o);
  auto w0 = b.add("http://127.0.0.1:1/", "test");
  auto w1 = b.add("127.0.0.1:2", "test");
  EXPECT_EQ(w0->url, "http://127.0.0.1:1");
  EXPECT_EQ(b.add("http://127.0.0.1:1", "again"), w0);  // one worker per URL
  b.check_result(*w0, false);
  EXPECT_TRUE(w0->healthy);  // one failed check is not enough
  b.check_result(*w0, false);
  EXPECT_FALSE(w0->healthy);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(b.choose("").worker, w1);
  EXPECT_FALSE(b.choose("", {w1->id}).worker);
  b.check_result(*w0, true);
  EXPECT_TRUE(w0->healthy);
  EXPECT_EQ(w0->ejections, 1u);
  EXPECT_TRUE(b.remove("127.0.0.1:1"));
  EXPECT_FALSE(b.remove("127.0.0.1:1"));
  EXPECT_THROW(b.add("ftp://x:1", "test"), std::exception);
  EXPECT_FALSE(parse_policy("fastest"));
}

}  // namespace
}  // namespace nagare
