// Gemma 3's sliding window in the scheduler: a sequence longer than the 512-token window, its
// prefill cut into chunks and batched with short sequences that come and go, gives the same
// greedy tokens as alone, and those are llama.cpp's (tests/golden/model/*.long.json). The
// sliding-window layers keep only each sequence's window: a long sequence fits a cache that could
// not hold all its positions, gives the tokens it gives with every position kept (--swa-full),
// and cached prefixes are reused where their window's blocks are cached.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/block_manager.h"
#include "engine/engine.h"
#include "model/kv_cache.h"
#include "util/error.h"

namespace nagare {
namespace {

const std::string kRoot = NAGARE_SOURCE_DIR;

std::vector<int32_t> collect_tokens(RequestStream& s) {
  std::vector<int32_t> tokens;
  std::vector<TokenEvent> events;
  for (bool done = false; !done;) {
    s.wait();
    events.clear();
    done = s.drain(events);
    for (auto& e : events)
      if (e.token >= 0) tokens.push_back(e.token);
  }
  return tokens;
}

GenerateRequest greedy(std::vector<int32_t> prompt, int32_t max_tokens) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

// Blocks until the stream has produced its first token (or ended): then it is running.
void wait_first_token(RequestStream& s) {
  std::vector<TokenEvent> events;
  while (events.empty() && !s.drain(events)) s.wait();
}

TEST(EngineLongContext, GemmaPastItsSlidingWindowAmongShortSequences) {
  std::ifstream in(kRoot + "/tests/golden/model/gemma-3-270m-q4_k_m.long.json");
  ASSERT_TRUE(in) << "missing tests/golden/model/gemma-3-270m-q4_k_m.long.json";
  const nlohmann::json golden = nlohmann::json::parse(in);
  const nlohmann::json& c = golden["cases"][0];  // the shortest long case
  const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
  const auto reference = c["greedy_ids"].get<std::vector<int32_t>>();

  auto model = Model::load(kRoot + "/models/gemma-3-270m-q4_k_m.gguf");
  ASSERT_GT(int32_t(prompt.size()), model->config().sliding_window) << "the case must pass the window";
  auto tok = Tokenizer::from_gguf(model->file());
  EngineOptions o;
  o.n_ctx = 2048;
  o.max_batch_tokens = 96;  // the long prefill takes several steps, each shared with the short sequences
  o.prefix_cache = false;   // every run computes the long prompt itself
  o.threads = 2;
  Engine e(std::move(model), std::move(tok), o);
  const int32_t n = int32_t(reference.size());

  const std::vector<int32_t> alone = collect_tokens(*e.submit(greedy(prompt, n)));
  ASSERT_EQ(int32_t(alone.size()), n);
  // llama.cpp's greedy tokens, up to a first divergence that may only be at a near-tie there
  // (the model golden test checks every position's logits; this checks the scheduler's output).
  size_t same = 0;
  while (same < alone.size() && alone[same] == reference[same]) same++;
  if (same < alone.size()) {
    const size_t p = prompt.size() - 1 + same;
    const auto& pos = c["positions"];
    auto it = std::find_if(pos.begin(), pos.end(), [&](const nlohmann::json& x) { return x["p"] == p; });
    ASSERT_NE(it, pos.end());
    const auto& ids = (*it)["top_ids"];
    const auto k = std::find(ids.begin(), ids.end(), alone[same]) - ids.begin();
    ASSERT_LT(size_t(k), ids.size()) << "greedy picks a token outside llama.cpp's top 32 at token " << same;
    const double behind = (*it)["top_logits"][0].get<double>() - (*it)["top_logits"][k].get<double>();
    EXPECT_LT(behind, 0.5) << "greedy picks a token " << behind << " below llama.cpp's at token " << same;
  }

  // The same request again while short sequences decode: they are running when it is submitted
  // (each has produced a token) and still running when it ends (they want far more tokens than
  // it takes steps), so every step of its prefill chunks and decodes was shared with them.
  const std::vector<std::string> shorts = {"The capital of France is", "def add(a, b):", "Once upon a time",
                                           "1, 2, 3, 4,"};
  std::vector<std::shared_ptr<RequestStream>> others;
  for (auto& text : shorts) others.push_back(e.submit(greedy(e.tokenizer().encode(text, true, false), 1000)));
  for (auto& s : others) wait_first_token(*s);
  const std::vector<int32_t> among = collect_tokens(*e.submit(greedy(prompt, n)));
  for (auto& s : others) {
    EXPECT_EQ(s->finish_reason(), FinishReason::kNone) << "a short sequence ended before the long one";
    s->cancel();
    collect_tokens(*s);
  }
  EXPECT_EQ(among, alone);
}
const std::string kGemma = kRoot + "/models/gemma-3-270m-q4_k_m.gguf";

std::vector<int32_t> long_prompt() {
  std::ifstream in(kRoot + "/tests/golden/model/gemma-3-270m-q4_k_m.long.json");
  return nlohmann::json::parse(in)["cases"][0]["prompt_ids"].get<std::vector<int32_t>>();
}

std::unique_ptr<Engine> gemma_engine(EngineOptions o) {
  auto model = Model::load(kGemma);
  auto tok = Tokenizer::from_gguf(model->file());
  o.threads = 2;
  return std::make_unique<Engine>(std::move(model), std::move(tok), o);
}

TEST(EngineLongContext, SlidingWindowLayersKeepOnlyTheirWindow) {
  const std::vector<int32_t> prompt = long_prompt();  // 697 tokens, past the 512-token window
  constexpr int32_t kNew = 48;
  EngineOptions o;
  o.n_ctx = 1024;
  o.max_batch_tokens = 96;
  o.prefix_cache = false;
  // 64 blocks of every layer for the context would be 64 * 18 pages; its 3 full-attention
  // layers' blocks and the 15 others' for a window and a step take 64 * 3 + 39 * 15.
  const auto model_config = Model::load(kGemma)->config();
  const size_t page = KvCache::page_bytes(model_config, o.block_size);
  o.kv_cache_bytes = 800 * page;
  o.swa_full = true;
  EXPECT_THROW(gemma_engine(o), Error) << "every position of 1024 tokens must not fit 800 pages";
  o.swa_full = false;
  auto windowed = gemma_engine(o);
  const std::vector<int32_t> tokens = collect_tokens(*windowed->submit(greedy(prompt, kNew)));

  o.swa_full = true;
  o.kv_cache_bytes = 0;
  auto full = gemma_engine(o);
  EXPECT_EQ(collect_tokens(*full->submit(greedy(prompt, kNew))), tokens);
}

TEST(EngineLongContext, PrefixesAreReusedWhereTheirWindowIsCached) {
  const std::vector<int32_t> prompt = long_prompt();
  constexpr int32_t kNew = 16;
  EngineOptions o;
  o.n_ctx = 1024;
  o.max_batch_tokens = 128;
  auto windowed = gemma_engine(o);  // room for 4 x 2048 tokens: nothing is evicted here
  o.prefix_cache = false;
  o.swa_full = true;
  auto reference = gemma_engine(o);

  auto run = [&](Engine& e, const std::vector<int32_t>& p, RequestStats* stats) {
    auto s = e.submit(greedy(p, kNew));
    auto tokens = collect_tokens(*s);
    if (stats) *stats = s->stats();
    return tokens;
  };
  RequestStats st;
  const auto first = run(*windowed, prompt, &st);
  EXPECT_EQ(st.cached_prompt_tokens, 0);
  EXPECT_EQ(first, run(*reference, prompt, nullptr));
  // The same prompt: every whole block but the one with its last token (688 of 697 tokens).
  EXPECT_EQ(run(*windowed, prompt, &st), first);
  EXPECT_EQ(st.cached_prompt_tokens, 688);
  // A prompt that leaves the first one after 600 tokens: its 592 tokens of whole blocks are
  // reused, the window before them from the blocks the first run dropped as it moved on.
  std::vector<int32_t> other(prompt.begin(), prompt.begin() + 600);
  other.insert(other.end(), prompt.begin() + 100, prompt.begin() + 200);
  const auto second = run(*windowed, other, &st);
  EXPECT_EQ(st.cached_prompt_tokens, 592);
  EXPECT_EQ(second, run(*reference, other, nullptr));
}
// How many sequences of 8,192 tokens a 4 GiB KV cache holds at once, every layer's positions
// kept and the sliding-window layers' window only, counted by the block manager as the engine
// uses it (steps of 512 tokens, blocks out of the window dropped before each). docs/benchmarks.md
// reports the counts this prints.
TEST(EngineLongContext, FourGiBHoldsFourTimesTheEightKSequencesWithWindowsApart) {
  const ModelConfig c = Model::load(kGemma)->config();
  constexpr size_t kBudget = size_t(4) << 30;
  constexpr int32_t kTokens = 8192, kStep = 512, kBlock = 16;
  const std::vector<int32_t> tokens(kTokens, 1);
  auto count = [&](BlockManager& bm) {
    std::vector<BlockTables> seqs;
    for (bool fits = true; fits;) {
      BlockTables t;
      for (int32_t done = 0; done < kTokens && fits; done += kStep) {
        bm.drop_outside_window(t, done);
        fits = bm.grow(t, done + kStep);
      }
      bm.drop_outside_window(t, kTokens);
      if (fits) seqs.push_back(std::move(t));
      else bm.release(t);
    }
    return int32_t(seqs.size());
  };
  BlockManager every_position(KvCache::blocks_for_bytes(c, kBudget, kBlock), kBlock, false);
  const int32_t before = count(every_position);
  auto kv = KvCache::with_separate_windows(c, int64_t(kBudget / KvCache::page_bytes(c, kBlock)), kBlock);
  BlockManager windows_apart(*kv, false);
  const int32_t after = count(windows_apart);
  std::printf("8192-token sequences in 4 GiB of KV (%s): every position kept %d, windows apart %d\n", c.arch.c_str(),
              before, after);
  EXPECT_EQ(before, int32_t(kBudget / (size_t(kTokens) * KvCache::bytes_per_token(c))));
  EXPECT_GE(after, 4 * before);
}
}  // namespace
}  // namespace nagare
