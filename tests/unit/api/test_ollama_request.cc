// Ollama request parsing: options onto sampling and limits with Ollama's defaults, keep_alive
// durations as Go writes them, and a 400 naming the field for everything nagare cannot honour.
#include <gtest/gtest.h>

#include "api/api_error.h"
#include "api/ollama_request.h"

namespace nagare {
namespace {

Json body(const char* text) { return Json::parse(text); }

std::string refused_param(const char* text, bool chat = false) {
  try {
    chat ? parse_ollama_chat(body(text)) : parse_ollama_generate(body(text));
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400) << text;
    return e.param();
  }
  ADD_FAILURE() << "accepted: " << text;
  return "";
}

TEST(OllamaRequest, DefaultsAreOllamas) {
  OllamaRequest r = parse_ollama_generate(body(R"({"model": "m", "prompt": "hi"})"));
  EXPECT_TRUE(r.stream);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(r.generate.max_tokens, -1);
  const SamplingParams& s = r.generate.sampling;
  EXPECT_FLOAT_EQ(s.temperature, 0.8f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_FLOAT_EQ(s.top_p, 0.9f);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.1f);
  EXPECT_EQ(s.repeat_last_n, 64);
  EXPECT_EQ(s.seed, kRandomSeed);
}

TEST(OllamaRequest, OptionsMapOntoSamplingAndLimits) {
  OllamaRequest r = parse_ollama_generate(body(R"({"model": "m", "prompt": "hi", "stream": false,
      "options": {"temperature": 0, "top_k": 5, "top_p": 0.5, "min_p": 0.1, "repeat_penalty": 1.3,
                  "repeat_last_n": -1, "presence_penalty": 0.2, "frequency_penalty": 0.3, "seed": 42,
                  "num_predict": 7, "num_ctx": 256, "stop": ["\n", ""], "num_thread": 8, "num_gpu": 1}})"));
  EXPECT_FALSE(r.stream);
  const SamplingParams& s = r.generate.sampling;
  EXPECT_EQ(s.temperature, 0.0f);
  EXPECT_EQ(s.top_k, 5);
  EXPECT_FLOAT_EQ(s.top_p, 0.5f);
  EXPECT_FLOAT_EQ(s.min_p, 0.1f);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.3f);
  EXPECT_EQ(s.repeat_last_n, -1);
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.2f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, 0.3f);
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(r.generate.max_tokens, 7);
  EXPECT_EQ(r.num_ctx, 256);
  EXPECT_EQ(r.generate.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(r.ignored_options, (std::vector<std::string>{"num_thread", "num_gpu"}));
  // Ollama's "off" values: a negative seed is random, num_predict -1 and -2 run to the end.
  OllamaRequest off = parse_ollama_generate(body(R"({"model": "m", "options": {"seed": -1, "num_predict": -2, "top_k": 0}})"));
  EXPECT_EQ(off.generate.sampling.seed, kRandomSeed);
  EXPECT_EQ(off.generate.max_tokens, -1);
  EXPECT_EQ(off.generate.sampling.top_k, 0);
  EXPECT_TRUE(off.load_only());
}

TEST(OllamaRequest, KeepAliveDurations) {
  EXPECT_DOUBLE_EQ(parse_keep_alive(Json(300)), 300);
  EXPECT_DOUBLE_EQ(parse_keep_alive(Json("5m")), 300);
  EXPECT_DOUBLE_EQ(parse_keep_alive(Json("1h30m")), 5400);
  EXPECT_DOUBLE_EQ(parse_keep_alive(Json("1.5s")), 1.5);
  EXPECT_DOUBLE_EQ(parse_keep_alive(Json("300ms")), 0.3);
  EXPECT_DOUBLE_EQ(parse_keep_alive(Json("0")), 0);
  EXPECT_LT(parse_keep_alive(Json("-1")), 0);
  EXPECT_LT(parse_keep_alive(Json("-1m")), 0);
  EXPECT_DOUBLE_EQ(parse_keep_alive(Json("5")), 5);  // a bare number in a string: seconds
  for (const char* bad : {"", "m", "5 m", "5x", "--1s", "1h-5m"}) EXPECT_THROW(parse_keep_alive(Json(bad)), ApiError) << bad;
  EXPECT_THROW(parse_keep_alive(Json::array()), ApiError);
}

TEST(OllamaRequest, ChatMessages) {
  OllamaRequest r = parse_ollama_chat(body(R"({"model": "m", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi", "images": []}]})"));
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1]["content"], "Hi");
  EXPECT_FALSE(r.load_only());
  EXPECT_TRUE(parse_ollama_chat(body(R"({"model": "m"})")).load_only());
}

TEST(OllamaRequest, FormatGivesAGrammar) {
  EXPECT_EQ(parse_ollama_generate(body(R"({"model": "m", "prompt": "hi"})")).generate.grammar, nullptr);
  EXPECT_EQ(parse_ollama_generate(body(R"({"model": "m", "prompt": "hi", "format": ""})")).generate.grammar, nullptr);
  EXPECT_NE(parse_ollama_generate(body(R"({"model": "m", "prompt": "hi", "format": "json"})")).generate.grammar, nullptr);
  const auto schema = R"({"model": "m", "messages": [], "format": {"type": "object", "properties": {"a": {"type": "integer"}}}})";
  const auto g = parse_ollama_chat(body(schema)).generate.grammar;
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(parse_ollama_chat(body(schema)).generate.grammar, g);  // the same schema: the same grammar
}

TEST(OllamaRequest, WhatCannotBeHonouredIsRefusedNamingTheField) {
  EXPECT_EQ(refused_param(R"({"prompt": "hi"})"), "model");
  EXPECT_EQ(refused_param(R"({"model": "m", "format": "yaml"})"), "format");
  EXPECT_EQ(refused_param(R"({"model": "m", "format": {"type": "object", "patternProperties": {}}})"), "format");
  EXPECT_EQ(refused_param(R"({"model": "m", "format": 7})"), "format");
  EXPECT_EQ(refused_param(R"({"model": "m", "images": ["aGk="]})"), "images");
  EXPECT_EQ(refused_param(R"({"model": "m", "template": "{{ .Prompt }}"})"), "template");
  EXPECT_EQ(refused_param(R"({"model": "m", "suffix": "end"})"), "suffix");
  EXPECT_EQ(refused_param(R"({"model": "m", "options": {"mirostat": 1}})"), "options.mirostat");
  EXPECT_EQ(refused_param(R"({"model": "m", "options": {"typical_p": 0.5}})"), "options.typical_p");
  EXPECT_EQ(refused_param(R"({"model": "m", "options": {"temperature": "hot"}})"), "temperature");
  EXPECT_EQ(refused_param(R"({"model": "m", "options": {"num_predict": -3}})"), "num_predict");
  EXPECT_EQ(refused_param(R"({"model": "m", "context": [1, -2]})"), "context");
  EXPECT_EQ(refused_param(R"({"model": "m", "keep_alive": "later"})"), "keep_alive");
  EXPECT_EQ(refused_param(R"({"model": "m", "messages": [{"role": "robot", "content": "x"}]})", true), "messages[0].role");
  EXPECT_EQ(refused_param(R"({"model": "m", "messages": [{"role": "user", "images": ["aGk="]}]})", true), "messages[0].images");
  EXPECT_EQ(refused_param(R"({"model": "m", "messages": {"role": "user"}})", true), "messages");
  // Neutral values of unsupported options are fine.
  EXPECT_NO_THROW(parse_ollama_generate(body(R"({"model": "m", "options": {"mirostat": 0, "typical_p": 1}})")));
}

}  // namespace
}  // namespace nagare
