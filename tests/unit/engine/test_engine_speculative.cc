// Speculative decoding by prompt lookup leaves every output as it was: on the golden prompts of
// both test models, with llama.cpp's greedy continuation as a predicted output (long drafts, a
// few of them wrong past near-ties), sampled at a temperature, under a grammar, under load, at
// the max_tokens and stop-string edges. Drafts are proposed and counted, and no block leaks.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/prompt_lookup.h"
#include "engine_harness.h"
#include "grammar/grammar.h"
#include "util/error.h"

namespace nagare {
namespace {

using namespace test;

struct GoldenPrompt {
  std::vector<int32_t> prompt, reference;  // llama.cpp's greedy continuation
};

std::vector<GoldenPrompt> golden_prompts(const std::string& model_file) {
  const std::string stem = model_file.substr(0, model_file.size() - 5);
  std::ifstream in(std::string(NAGARE_SOURCE_DIR) + "/tests/golden/model/" + stem + ".json");
  EXPECT_TRUE(in) << stem;
  std::vector<GoldenPrompt> out;
  const nlohmann::json golden = nlohmann::json::parse(in);
  for (const auto& c : golden["cases"])
    out.push_back({c["prompt_ids"].get<std::vector<int32_t>>(), c["greedy_ids"].get<std::vector<int32_t>>()});
  return out;
}

GenerateRequest request(std::vector<int32_t> prompt, int32_t max_tokens, float temperature = 0, uint64_t seed = 0) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

EngineOptions options(int32_t draft_max) {
  EngineOptions o;
  o.n_ctx = 512;
  o.threads = 2;
  o.draft_max = draft_max;
  o.draft_step_tokens = 64;  // drafts under load too
  return o;
}

// A prompt whose continuation quotes it: prompt lookup's own case.
std::vector<int32_t> quoting_prompt(const Engine& e) {
  return e.tokenizer().encode(
      "Copy: the bus runs every twenty minutes from the station to the harbour, nine stops, 24 minutes.\n"
      "Copy: the bus runs every twenty minutes from the station to the harbour, nine stops, 24 minutes.\n"
      "Copy: the bus runs",
      true, false);
}

class Speculative : public ::testing::TestWithParam<std::string> {};

TEST_P(Speculative, GreedyOutputIsUnchangedAloneAndUnderLoad) {
  auto plain = make_engine(GetParam(), options(0));
  auto spec = make_engine(GetParam(), options(8));
  auto cases = golden_prompts(GetParam());
  cases.push_back({quoting_prompt(*plain), {}});
  const int32_t n = 24;
  std::vector<Output> expected;
  for (const auto& c : cases) expected.push_back(collect(*plain->submit(request(c.prompt, n))));

  // Alone, drafting from the context, then from the reference as a predicted output.
  int32_t drafted = 0, accepted = 0;
  for (size_t i = 0; i < cases.size(); ++i)
    for (bool predicted : {false, true}) {
      GenerateRequest r = request(cases[i].prompt, n);
      if (predicted) r.prediction = cases[i].reference;
      const Output o = collect(*spec->submit(r));
      EXPECT_EQ(o.tokens, expected[i].tokens) << "case " << i << (predicted ? " with prediction" : "");
      EXPECT_EQ(o.text, expected[i].text);
      EXPECT_EQ(o.stats.completion_tokens, n);
      EXPECT_LE(o.stats.draft_accepted_tokens, o.stats.draft_tokens);
      drafted += o.stats.draft_tokens;
      accepted += o.stats.draft_accepted_tokens;
    }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(drafted, accepted) << "no draft was ever refused: the refusal path went untested";

  // All at once, with and without predictions: drafts share steps with decodes and prefills.
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (size_t i = 0; i < cases.size(); ++i) {
    GenerateRequest r = request(cases[i].prompt, n);
    if (i % 2) r.prediction = cases[i].reference;
    streams.push_back(spec->submit(r));
  }
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(collect(*streams[i]).tokens, expected[i].tokens) << "case " << i;

  const EngineStats st = stats_when_idle(*spec);
  EXPECT_EQ(st.kv_blocks_in_use, 0);
  EXPECT_GE(st.draft_tokens, uint64_t(drafted));
  EXPECT_GE(st.draft_accepted_tokens, uint64_t(accepted));
}

INSTANTIATE_TEST_SUITE_P(Models, Speculative, ::testing::Values(kSmolLM2, "gemma-3-270m-q4_k_m.gguf"));

TEST(SpeculativeSmol, SampledOutputIsUnchangedForTheSameSeed) {
  auto plain = make_engine(kSmolLM2, options(0));
  auto spec = make_engine(kSmolLM2, options(8));
  const auto prompt = quoting_prompt(*plain);
  for (uint64_t seed : {1u, 2u, 3u}) {
    GenerateRequest r = request(prompt, 40, 0.7f, seed);
    r.sampling.top_k = 40;
    r.sampling.repetition_penalty = 1.1f;
    const Output a = collect(*plain->submit(r));
    const Output b = collect(*spec->submit(r));
    EXPECT_EQ(a.tokens, b.tokens) << "seed " << seed;
    EXPECT_GT(b.stats.draft_tokens, 0);
  }
}

TEST(SpeculativeSmol, GrammarStopStringsAndLimitsEndWhereTheyDid) {
  auto plain = make_engine(kSmolLM2, options(0));
  auto spec = make_engine(kSmolLM2, options(8));
  const auto prompt = quoting_prompt(*plain);
  const Output free_run = collect(*plain->submit(request(prompt, 30)));
  ASSERT_GE(free_run.text.size(), 12u);

  // max_tokens in the middle of a draft: exactly that many tokens.
  for (int32_t n : {1, 2, 5, 11}) {
    const Output o = collect(*spec->submit(request(prompt, n)));
    EXPECT_EQ(o.tokens, std::vector<int32_t>(free_run.tokens.begin(), free_run.tokens.begin() + n));
    EXPECT_EQ(o.reason, FinishReason::kLength);
  }
  // A stop string met inside an accepted draft ends the output there.
  GenerateRequest stop = request(prompt, 30);
  stop.stop = {free_run.text.substr(8, 4)};
  const Output a = collect(*plain->submit(stop));
  const Output b = collect(*spec->submit(stop));
  EXPECT_EQ(b.reason, FinishReason::kStop);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.tokens, b.tokens);

  // Under a grammar: drafts the grammar refuses are never taken.
  auto g = Grammar::from_json_schema(nlohmann::ordered_json::parse(
      R"({"type":"object","properties":{"copy":{"type":"string","maxLength":80}},"required":["copy"]})"));
  GenerateRequest constrained = request(prompt, 60);
  constrained.grammar = g;
  constrained.prediction = plain->tokenizer().encode("{\"copy\": \"the bus runs every twenty minutes\"}", false, false);
  const Output c = collect(*plain->submit(constrained));
  const Output d = collect(*spec->submit(constrained));
  EXPECT_EQ(c.text, d.text);
  EXPECT_EQ(c.reason, d.reason);
  EXPECT_GT(d.stats.draft_tokens, 0);
  EXPECT_EQ(stats_when_idle(*spec).kv_blocks_in_use, 0);
}

TEST(SpeculativeSmol, NoDraftsInAFullStep) {
  EngineOptions o = options(8);
  o.draft_step_tokens = 1;  // every decode step already holds a token
  auto spec = make_engine(kSmolLM2, o);
  const Output out = collect(*spec->submit(request(quoting_prompt(*spec), 20)));
  EXPECT_EQ(out.stats.draft_tokens, 0);
  EXPECT_EQ(spec->stats().draft_tokens, 0u);
}

// A draft model: the F16 SmolLM2 drafted for by its Q4_1 copy (same vocabulary). Outputs stay the
// F16 model's own, alone and under load; drafts come where prompt lookup has none.
TEST(SpeculativeDraftModel, OutputIsTheTargetsOwn) {
  const std::string target = "SmolLM2-135M-Instruct.F16.gguf";
  auto plain = make_engine(target, options(0));
  auto load = [&](const EngineOptions& o) {
    auto model = Model::load(kModelDir + target);
    auto tok = Tokenizer::from_gguf(model->file());
    return std::make_unique<Engine>(std::move(model), std::move(tok), o, Model::load(kModelDir + kSmolLM2));
  };
  auto spec = load(options(8));
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& c : golden_prompts(kSmolLM2)) prompts.push_back(c.prompt);
  const int32_t n = 20;
  std::vector<Output> expected;
  for (const auto& p : prompts) expected.push_back(collect(*plain->submit(request(p, n))));
  int32_t drafted = 0, accepted = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Output o = collect(*spec->submit(request(prompts[i], n)));
    EXPECT_EQ(o.tokens, expected[i].tokens) << "case " << i;
    drafted += o.stats.draft_tokens;
    accepted += o.stats.draft_accepted_tokens;
  }
  EXPECT_GT(accepted, drafted / 2) << "a quantized copy of the model should mostly agree with it";
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const auto& p : prompts) streams.push_back(spec->submit(request(p, n)));
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(collect(*streams[i]).tokens, expected[i].tokens) << "case " << i;
  // Sampled: the same seed gives the same tokens.
  GenerateRequest r = request(prompts[0], n, 0.8f, 7);
  EXPECT_EQ(collect(*spec->submit(r)).tokens, collect(*plain->submit(r)).tokens);
  EXPECT_EQ(stats_when_idle(*spec).kv_blocks_in_use, 0);

  // Another vocabulary is refused at start, naming both.
  try {
    auto model = Model::load(kModelDir + target);
    auto tok = Tokenizer::from_gguf(model->file());
    Engine e(std::move(model), std::move(tok), options(8), Model::load(kModelDir + "gemma-3-270m-q4_k_m.gguf"));
    FAIL() << "a draft model with another vocabulary was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("262144 tokens, gemma3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("49152 tokens, llama"), std::string::npos) << e.what();
  }
}

TEST(PromptLookup, ProposesWhatFollowedTheLatestLongestMatch) {
  const PromptLookupOptions o{2, 3};
  std::vector<int32_t> draft;
  // "1 2 3" occurs at 0 (followed by 4 5) and its last two "2 3" at 5 (followed by 9).
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 2, 3, 9, 7, 1, 2, 3};
  EXPECT_EQ(prompt_lookup_draft(tokens, {}, o, 4, draft), 4);
  EXPECT_EQ(draft, (std::vector<int32_t>{4, 5, 2, 3}));
  draft.clear();
  EXPECT_EQ(prompt_lookup_draft(std::vector<int32_t>{8, 2, 3, 9, 6, 2, 3}, {}, o, 8, draft), 4);
  EXPECT_EQ(draft, (std::vector<int32_t>{9, 6, 2, 3}));  // the latest "2 3" but the suffix itself
  draft.clear();
  // The prediction comes first; a one-token suffix is below ngram_min; nothing to draft at 0.
  EXPECT_EQ(prompt_lookup_draft(std::vector<int32_t>{2, 3, 1, 2, 3}, std::vector<int32_t>{2, 3, 7, 7}, o, 8, draft), 2);
  EXPECT_EQ(draft, (std::vector<int32_t>{7, 7}));
  draft.clear();
  EXPECT_EQ(prompt_lookup_draft(std::vector<int32_t>{5, 1, 6, 1}, {}, o, 8, draft), 0);
  EXPECT_EQ(prompt_lookup_draft(tokens, {}, o, 0, draft), 0);
  EXPECT_EQ(prompt_lookup_draft(std::vector<int32_t>{}, {}, o, 4, draft), 0);
  EXPECT_TRUE(draft.empty());
}

}  // namespace
}  // namespace nagare
