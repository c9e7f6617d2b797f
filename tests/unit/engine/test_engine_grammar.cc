// Constrained decoding in the engine on a real model: every output is a sentence of the grammar
// at any temperature, a finished sentence ends the request, a grammar the output cannot finish
// ends with "length", and constrained requests leave their unconstrained neighbours' outputs
// unchanged (batch invariance).
#include <gtest/gtest.h>

#include <regex>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine_harness.h"

namespace nagare {
namespace {

using test::collect;
using test::Output;

std::unique_ptr<Engine> make_engine() {
  EngineOptions o;
  o.n_ctx = 512;
  o.threads = 2;
  return test::make_engine(test::kSmolLM2, o);
}

GenerateRequest request(const Engine& e, const std::string& text, float temperature, uint64_t seed,
                        std::shared_ptr<const Grammar> grammar, int32_t max_tokens = 64) {
  GenerateRequest r;
  r.prompt = e.tokenizer().encode(text, true, false);
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  r.max_tokens = max_tokens;
  r.grammar = std::move(grammar);
  return r;
}

class EngineGrammar : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = make_engine().release(); }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  static Engine* engine_;
};
Engine* EngineGrammar::engine_ = nullptr;

TEST_F(EngineGrammar, GbnfOutputMatchesAtEveryTemperature) {
  auto g = Grammar::from_gbnf(R"(root ::= "The answer is " [0-9]{1,3} ("." | "!"))");
  const std::regex whole("The answer is [0-9]{1,3}[.!]");
  for (float t : {0.0f, 0.8f, 2.0f}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      Output o = collect(*engine_->submit(request(*engine_, "What is six times seven?", t, seed, g)));
      EXPECT_EQ(o.reason, FinishReason::kStop) << o.error;  // the sentence is finished: nothing may follow
      EXPECT_TRUE(std::regex_match(o.text, whole)) << "temperature " << t << ": " << o.text;
    }
  }
}

TEST_F(EngineGrammar, JsonSchemaOutputParsesAndHoldsToTheSchema) {
  const auto schema = nlohmann::ordered_json::parse(R"({
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 0, "maximum": 120},
                   "city": {"enum": ["Tokyo", "Paris", "大阪"]}},
    "required": ["name", "age", "city"], "additionalProperties": false})");
  auto g = Grammar::from_json_schema(schema);
  for (float t : {0.0f, 1.0f, 1.5f}) {
    Output o = collect(*engine_->submit(request(*engine_, "Describe a person as JSON.", t, 7, g, 160)));
    ASSERT_EQ(o.reason, FinishReason::kStop) << o.text;
    auto j = nlohmann::json::parse(o.text);
    EXPECT_TRUE(j["name"].is_string() && j["name"].get<std::string>().size() <= 12 * 4);
    EXPECT_TRUE(j["age"].is_number_integer() && j["age"] >= 0 && j["age"] <= 120);
    const std::string city = j["city"];
    EXPECT_TRUE(city == "Tokyo" || city == "Paris" || city == "大阪") << city;
    EXPECT_EQ(j.size(), 3u);
  }
}

TEST_F(EngineGrammar, AnOutputCutShortEndsWithLengthNeverStop) {
  auto g = Grammar::from_gbnf(R"(root ::= "[" ("\"" [a-z]{20} "\"" ", ")* "]")");
  Output o = collect(*engine_->submit(request(*engine_, "List words.", 0.0f, 1, g, 6)));
  EXPECT_EQ(o.reason, FinishReason::kLength);
  EXPECT_EQ(o.text.rfind("[", 0), 0u);
}

TEST_F(EngineGrammar, ConstrainedNeighboursLeaveGreedyOutputUnchanged) {
  auto free_request = [&] {
    GenerateRequest r = request(*engine_, "Name three colours.", 0.0f, 1, nullptr, 24);
    r.ignore_eos = true;
    return r;
  };
  const Output alone = collect(*engine_->submit(free_request()));
  auto g = Grammar::any_json_object();
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 3; ++i) streams.push_back(engine_->submit(request(*engine_, "JSON please.", 1.0f, 10 + i, g, 40)));
  auto mixed = engine_->submit(free_request());
  for (int i = 0; i < 3; ++i) streams.push_back(engine_->submit(request(*engine_, "More JSON.", 0.0f, 1, g, 40)));
  EXPECT_EQ(collect(*mixed).text, alone.text);
  for (auto& s : streams) {
    Output o = collect(*s);
    if (o.reason == FinishReason::kStop) EXPECT_TRUE(nlohmann::json::parse(o.text).is_object()) << o.text;
    else EXPECT_EQ(o.reason, FinishReason::kLength);
  }
}

TEST_F(EngineGrammar, OneGrammarObjectServesManyRequests) {
  // The same grammar object (the API keeps one per schema) is compiled once per engine; requests
  // at once and after each other give the same greedy output.
  auto g = Grammar::from_gbnf(R"(root ::= ("yes" | "no") " because " [a-z ]{1,30} ".")");
  const Output first = collect(*engine_->submit(request(*engine_, "Is the sky blue?", 0.0f, 1, g)));
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(engine_->submit(request(*engine_, "Is the sky blue?", 0.0f, 1, g)));
  for (auto& s : streams) EXPECT_EQ(collect(*s).text, first.text);
}

}  // namespace
}  // namespace nagare
