// ResponseCache: keys that change with every input that changes the output (and only those
// inputs), entries that round-trip exactly, an LRU bounded in bytes with a TTL, and stored text
// that is not an entry ignored.
#include <gtest/gtest.h>

#include <thread>

#include "api/response_cache.h"

namespace nagare {
namespace {

GenerateRequest greedy() {
  GenerateRequest g;
  g.prompt = {1, 2, 3};
  g.sampling.temperature = 0;
  g.max_tokens = 8;
  return g;
}

TEST(ResponseCache, KeyChangesWithEveryOutputAffectingInput) {
  const std::string base = ResponseCache::key("m/1", "chat", {greedy()});
  EXPECT_EQ(base, ResponseCache::key("m/1", "chat", {greedy()}));
  std::vector<std::pair<const char*, std::function<void(GenerateRequest&)>>> changes = {
      {"prompt", [](GenerateRequest& g) { g.prompt.push_back(4); }},
      {"temperature", [](GenerateRequest& g) { g.sampling.temperature = 1e-7f; }},
      {"top_k", [](GenerateRequest& g) { g.sampling.top_k = 1; }},
      {"top_p", [](GenerateRequest& g) { g.sampling.top_p = 0.5f; }},
      {"min_p", [](GenerateRequest& g) { g.sampling.min_p = 0; }},
      {"repetition_penalty", [](GenerateRequest& g) { g.sampling.repetition_penalty = 1.1f; }},
      {"repeat_last_n", [](GenerateRequest& g) { g.sampling.repeat_last_n = 0; }},
      {"frequency_penalty", [](GenerateRequest& g) { g.sampling.frequency_penalty = 0.5f; }},
      {"presence_penalty", [](GenerateRequest& g) { g.sampling.presence_penalty = 0.5f; }},
      {"seed", [](GenerateRequest& g) { g.sampling.seed = 7; }},
      {"max_tokens", [](GenerateRequest& g) { g.max_tokens = 9; }},
      {"min_tokens", [](GenerateRequest& g) { g.min_tokens = 1; }},
      {"ignore_eos", [](GenerateRequest& g) { g.ignore_eos = true; }},
      {"stop", [](GenerateRequest& g) { g.stop = {"\n"}; }},
      {"top_logprobs", [](GenerateRequest& g) { g.top_logprobs = 2; }},
      {"must_fit", [](GenerateRequest& g) { g.max_tokens_must_fit = true; }},
      {"grammar", [](GenerateRequest& g) { g.grammar = Grammar::from_gbnf("root ::= [a-z]+"); }},
  };
  for (auto& [what, change] : changes) {
    GenerateRequest g = greedy();
    change(g);
    EXPECT_NE(ResponseCache::key("m/1", "chat", {g}), base) << what;
  }
  // The same grammar text is the same key, another grammar another key.
  GenerateRequest a = greedy(), b = greedy(), c = greedy();
  a.grammar = Grammar::from_gbnf("root ::= [a-z]+");
  b.grammar = Grammar::from_gbnf("root ::= [a-z]+");
  c.grammar = Grammar::from_gbnf("root ::= [0-9]+");
  EXPECT_EQ(ResponseCache::key("m/1", "chat", {a}), ResponseCache::key("m/1", "chat", {b}));
  EXPECT_NE(ResponseCache::key("m/1", "chat", {a}), ResponseCache::key("m/1", "chat", {c}));
  EXPECT_NE(ResponseCache::key("m/2", "chat", {greedy()}), base);  // another model (or other weights)
  EXPECT_NE(ResponseCache::key("m/1", "completion", {greedy()}), base);
  EXPECT_NE(ResponseCache::key("m/1", "chat", {greedy(), greedy()}), base);  // n = 2
}

TEST(ResponseCache, EntriesRoundTripAndGarbageIsIgnored) {
  ResponseCache cache(std::make_unique<LruCacheBackend>(1 << 20), std::chrono::seconds(60));
  CachedChoice c;
  TokenEvent e;
  e.token = 42;
  e.text = "h\xc3\xa9llo \"q\"\n";
  e.logprob = -0.125f;
  e.top = {{42, -0.125f}, {7, -2.5f}};
  c.events = {e, TokenEvent{-1, "", 0, {}}};
  c.finish = FinishReason::kLength;
  c.stats.prompt_tokens = 3;
  c.stats.completion_tokens = 1;
  c.stats.decode_ms = 1.5;
  cache.put("k", {c});
  auto got = cache.get("k", 1);
  ASSERT_TRUE(got);
  ASSERT_EQ((*got)[0].events.size(), 2u);
  EXPECT_EQ((*got)[0].events[0].text, e.text);
  EXPECT_EQ((*got)[0].events[0].logprob, e.logprob);
  EXPECT_EQ((*got)[0].events[0].top[1].token, 7);
  EXPECT_EQ((*got)[0].finish, FinishReason::kLength);
  EXPECT_EQ((*got)[0].stats.decode_ms, 1.5);
  EXPECT_FALSE(cache.get("k", 2));  // another choice count is another request
  EXPECT_FALSE(cache.get("absent", 1));
  for (const char* bad : {"", "[", "{}", "[{\"events\": 1}]", "[{\"events\": [], \"finish\": \"cancelled\", \"stats\": [0,0,0,0,0,0]}]"})
    EXPECT_FALSE(ResponseCache::decode(bad, 1)) << bad;
}

TEST(LruCacheBackend, BoundedInBytesLeastRecentlyUsedFirstWithTtl) {
  LruCacheBackend lru(100);
  lru.put("a", std::string(40, 'a'), std::chrono::seconds(60));
  lru.put("b", std::string(40, 'b'), std::chrono::seconds(60));
  ASSERT_TRUE(lru.get("a"));  // a is now the most recently used
  lru.put("c", std::string(40, 'c'), std::chrono::seconds(60));
  EXPECT_TRUE(lru.get("a"));
  EXPECT_FALSE(lru.get("b"));
  EXPECT_TRUE(lru.get("c"));
  EXPECT_LE(lru.bytes(), 100u);
  lru.put("huge", std::string(200, 'x'), std::chrono::seconds(60));  // larger than the cache: not kept
  EXPECT_FALSE(lru.get("huge"));
  EXPECT_TRUE(lru.get("a"));
  lru.put("short", "x", std::chrono::seconds(0));
  EXPECT_FALSE(lru.get("short"));
}

}  // namespace
}  // namespace nagare
