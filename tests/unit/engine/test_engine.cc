// The scheduler on a real model: batch invariance under concurrency and chunked prefill,
// preemption with recompute, prefix reuse, cancellation and error paths. Blocks never leak.
// Nothing here waits for a time: tests wait for the engine to reach a state, and assert counts.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>

#include "engine_harness.h"
#include "util/error.h"

namespace nagare {
namespace {

using namespace test;

const std::string kModel = kModelDir + kSmolLM2;

std::unique_ptr<Engine> make_engine(const EngineOptions& o) { return test::make_engine(kSmolLM2, o); }

GenerateRequest greedy(const Engine& e, const std::string& text, int32_t max_tokens) {
  GenerateRequest r;
  r.prompt = e.tokenizer().encode(text, true, false);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

const std::vector<std::string> kPrompts = {
    "The capital of France is", "def add(a, b):", "Once upon a time", "1, 2, 3, 4,",
    "The quick brown fox", "import numpy as np\n", "Water boils at", "My favourite colour is",
};

TEST(Engine, GreedyOutputIsTheSameAloneAndUnderLoad) {
  EngineOptions o;
  o.n_ctx = 256;
  o.max_batch_tokens = 7;  // forces chunked prefill mixed with decodes
  o.threads = 2;
  auto e = make_engine(o);
  std::vector<Output> alone;
  for (auto& p : kPrompts) alone.push_back(collect(*e->submit(greedy(*e, p, 12))));
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (auto& p : kPrompts) streams.push_back(e->submit(greedy(*e, p, 12)));
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    Output together = collect(*streams[i]);
    EXPECT_EQ(together.tokens, alone[i].tokens) << kPrompts[i];
    EXPECT_EQ(together.text, alone[i].text) << kPrompts[i];
    EXPECT_EQ(together.reason, FinishReason::kLength);
    EXPECT_EQ(together.stats.completion_tokens, 12);
  }
  EXPECT_EQ(stats_when_idle(*e).kv_blocks_in_use, 0);
}

TEST(Engine, PreemptsAndRecomputesWhenKvRunsOut) {
  EngineOptions o;
  o.n_ctx = 64;
  o.block_size = 16;
  o.kv_cache_bytes = 4 * 16 * KvCache::bytes_per_token(Model::load(kModel)->config());  // 4 blocks: one context
  o.prefix_cache = false;
  o.threads = 2;
  auto e = make_engine(o);
  std::vector<Output> alone;
  for (int i = 0; i < 4; ++i) alone.push_back(collect(*e->submit(greedy(*e, kPrompts[i], 30))));
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(e->submit(greedy(*e, kPrompts[i], 30)));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(collect(*streams[i]).tokens, alone[i].tokens) << kPrompts[i];
  const EngineStats idle = stats_when_idle(*e);
  EXPECT_GT(idle.preemptions, 0u);
  EXPECT_EQ(idle.kv_blocks_in_use, 0);
}

TEST(Engine, ReusesCachedPrefixBlocksWithIdenticalOutput) {
  EngineOptions o;
  o.n_ctx = 256;
  o.threads = 2;
  auto e = make_engine(o);
  const std::string prefix = "You are a helpful assistant. Answer briefly and precisely. Here is the question: ";
  Output first = collect(*e->submit(greedy(*e, prefix + "what is two plus two?", 8)));
  EXPECT_EQ(first.stats.cached_prompt_tokens, 0);
  Output second = collect(*e->submit(greedy(*e, prefix + "what is two plus two?", 8)));
  EXPECT_GT(second.stats.cached_prompt_tokens, 0);
  EXPECT_LT(second.stats.cached_prompt_tokens, second.stats.prompt_tokens);
  EXPECT_EQ(first.tokens, second.tokens);
  Output other = collect(*e->submit(greedy(*e, prefix + "name a colour.", 8)));
  EXPECT_GT(other.stats.cached_prompt_tokens, 0);
  const EngineStats idle = stats_when_idle(*e);
  EXPECT_GT(idle.prefix_cache_hit_tokens, 0u);
  EXPECT_EQ(idle.kv_blocks_in_use, 0);
  EXPECT_GT(idle.kv_blocks_cached, 0);
}

TEST(Engine, CancelFreesBlocks) {
  EngineOptions o;
  o.n_ctx = 2048;
  o.threads = 2;
  o.draft_max = 0;  // one token per step, as the counting below assumes
  auto e = make_engine(o);
  GenerateRequest r = greedy(*e, "Write a very long story about the sea.", -1);  // to the context's end
  const int32_t max_tokens = o.n_ctx - int32_t(r.prompt.size());
  auto s = e->submit(r);
  // The engine calls the notify callback on its scheduler thread as it pushes each token, in the
  // step that sampled it (one token per step here); a cancel there takes effect at the start of
  // the next step. By the third call the sequence has run at least two steps, each followed by
  // published stats, which count every token but the one just pushed.
  std::atomic<int> notified{0};
  EngineStats during;
  s->set_notify([&] {
    if (++notified == 3) {
      during = e->stats();
      s->cancel();
    }
  });
  Output out = collect(*s);
  ASSERT_GE(notified.load(), 3) << "the request finished before it could be cancelled";
  EXPECT_EQ(during.running, 1);
  EXPECT_GT(during.kv_blocks_in_use, 0);
  EXPECT_EQ(out.reason, FinishReason::kCancelled);
  // No token was sampled after the cancel, and every one before it reached the stream.
  EXPECT_GE(during.generated_tokens, 2u);
  EXPECT_EQ(out.stats.completion_tokens, int32_t(during.generated_tokens) + 1);
  EXPECT_EQ(int32_t(out.tokens.size()), out.stats.completion_tokens);
  EXPECT_LT(out.stats.completion_tokens, max_tokens);
  EXPECT_EQ(stats_when_idle(*e).kv_blocks_in_use, 0);
}

TEST(Engine, LiveRequestsShowWhatRunsAndWaitsWithItsUser) {
  EngineOptions o;
  o.n_ctx = 1024;
  o.threads = 2;
  o.max_running = 1;  // the second request waits while the first runs
  o.draft_max = 0;
  auto e = make_engine(o);
  GenerateRequest a = greedy(*e, "Write a very long story about the sea.", -1);
  a.user = "alice";
  GenerateRequest b = greedy(*e, "Hi", 4);
  b.user = "bob";
  auto sa = e->submit(a);
  auto sb = e->submit(b);
  // As in CancelFreesBlocks: by the third token the list published after a step holds both.
  std::atomic<int> notified{0};
  std::vector<LiveRequest> during;
  sa->set_notify([&] {
    if (++notified == 3) {
      during = e->live_requests();
      sa->cancel();
    }
  });
  collect(*sa);
  collect(*sb);
  ASSERT_EQ(during.size(), 2u);
  EXPECT_EQ(during[0].user, "alice");
  EXPECT_EQ(during[0].state, LiveRequest::State::kDecode);
  EXPECT_EQ(during[0].prompt_tokens, int32_t(a.prompt.size()));
  EXPECT_GE(during[0].completion_tokens, 2);
  EXPECT_EQ(during[1].user, "bob");
  EXPECT_EQ(during[1].state, LiveRequest::State::kWaiting);
  EXPECT_EQ(during[1].completion_tokens, 0);
  EXPECT_LT(during[0].id, during[1].id);
  stats_when_idle(*e);
  for (const LiveRequest& r : e->live_requests()) EXPECT_TRUE(r.user.empty()) << r.user;  // at most the probe
}

TEST(Engine, StopStringsAndEndOfGeneration) {
  EngineOptions o;
  o.n_ctx = 256;
  o.threads = 2;
  auto e = make_engine(o);
  GenerateRequest r = greedy(*e, "1, 2, 3, 4,", 30);
  Output free_run = collect(*e->submit(r));
  ASSERT_GE(free_run.text.size(), 6u);
  r.stop = {free_run.text.substr(3, 3)};
  Output stopped = collect(*e->submit(r));
  EXPECT_EQ(stopped.reason, FinishReason::kStop);
  EXPECT_EQ(stopped.text, free_run.text.substr(0, 3));

  // Without ignore_eos an instruct model ends its turn by itself.
  GenerateRequest chat;
  chat.prompt = e->tokenizer().encode("<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n", false, true);
  chat.sampling.temperature = 0;
  chat.max_tokens = 100;
  Output c = collect(*e->submit(chat));
  EXPECT_EQ(c.reason, FinishReason::kStop);
  EXPECT_EQ(c.text.find("<|im_end|>"), std::string::npos);
}

// The engine is the one place a request's limits are checked: each refusal is a RequestError
// whose kind and field the APIs translate.
RequestError refusal(Engine& e, GenerateRequest r) {
  try {
    e.submit(std::move(r));
  } catch (const RequestError& err) {
    return err;
  }
  ADD_FAILURE() << "the engine accepted the request";
  return RequestError(RequestError::Kind::kInvalid, "", "");
}

TEST(Engine, RejectsRequestsThatCanNeverRun) {
  EngineOptions o;
  o.n_ctx = 32;
  o.threads = 1;
  auto e = make_engine(o);
  using Kind = RequestError::Kind;
  RequestError empty = refusal(*e, GenerateRequest{});
  EXPECT_EQ(empty.kind(), Kind::kInvalid);
  EXPECT_EQ(empty.field(), "prompt");
  GenerateRequest bad_token;
  bad_token.prompt = {1, 999999};
  EXPECT_EQ(refusal(*e, bad_token).field(), "prompt");
  GenerateRequest bad_temp;
  bad_temp.prompt = {1, 2};
  bad_temp.sampling.temperature = -1;
  EXPECT_EQ(refusal(*e, bad_temp).kind(), Kind::kInvalid);
  GenerateRequest bad_top;
  bad_top.prompt = {1, 2};
  bad_top.top_logprobs = 21;
  EXPECT_EQ(refusal(*e, bad_top).field(), "top_logprobs");

  // 32 tokens leave no room in a 32-token context; 31 leave one.
  GenerateRequest full;
  full.prompt.assign(32, 1);
  RequestError c = refusal(*e, full);
  EXPECT_EQ(c.kind(), Kind::kContextLength);
  EXPECT_EQ(c.n_ctx(), 32);
  EXPECT_EQ(c.prompt_tokens(), 32);
  EXPECT_EQ(c.output_tokens(), 1);
  EXPECT_FALSE(c.output_requested());
  // min_tokens must fit; max_tokens only under OpenAI's rule (max_tokens_must_fit).
  GenerateRequest r;
  r.prompt.assign(28, 1);
  r.min_tokens = 5;
  EXPECT_EQ(refusal(*e, r).output_tokens(), 5);
  r.min_tokens = 0;
  r.max_tokens = 5;
  r.max_tokens_must_fit = true;
  RequestError m = refusal(*e, r);
  EXPECT_EQ(m.kind(), Kind::kContextLength);
  EXPECT_EQ(m.output_tokens(), 5);
  EXPECT_TRUE(m.output_requested());
  r.max_tokens = 4;
  EXPECT_NO_THROW(collect(*e->submit(r)));

  // Otherwise max_tokens beyond the context ends with "length" at the context's end.
  GenerateRequest fill;
  fill.prompt = e->tokenizer().encode("Count: 1 2 3", true, false);
  fill.sampling.temperature = 0;
  fill.ignore_eos = true;
  fill.max_tokens = 1000;
  Output out = collect(*e->submit(fill));
  EXPECT_EQ(out.reason, FinishReason::kLength);
  EXPECT_EQ(out.stats.prompt_tokens + out.stats.completion_tokens, 32);
}

}  // namespace
}  // namespace nagare
