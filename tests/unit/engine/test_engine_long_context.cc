// Gemma 3's sliding window in the scheduler: a sequence longer than the 512-token window, its
// prefill cut into chunks and batched with short sequences that come and go, gives the same
// greedy tokens as alone, and those are llama.cpp's (tests/golden/model/*.long.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/engine.h"

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
}  // namespace
}  // namespace nagare
