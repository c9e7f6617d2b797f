// OpenAI request parsing: defaults, every accepted shape, and for each bad input the 400 with the
// field that caused it (the `param` of OpenAI's error shape).
#include <gtest/gtest.h>

#include "api/api_error.h"
#include "api/openai_request.h"

namespace nagare {
namespace {

Json chat_body(Json extra = Json::object()) {
  Json b = {{"model", "m"}, {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (auto& [k, v] : extra.items()) b[k] = v;
  return b;
}

Json completion_body(Json extra = Json::object()) {
  Json b = {{"model", "m"}, {"prompt", "Once upon a time"}};
  for (auto& [k, v] : extra.items()) b[k] = v;
  return b;
}

// The ApiError a call throws (fails the test when it throws nothing).
template <class F>
ApiError error_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no ApiError thrown";
  return ApiError(0, "", "");
}

void expect_bad_chat(const Json& extra, const std::string& param) {
  ApiError e = error_of([&] { parse_chat_request(chat_body(extra)); });
  EXPECT_EQ(e.status(), 400) << extra.dump();
  EXPECT_EQ(e.type(), "invalid_request_error");
  EXPECT_EQ(e.param(), param) << extra.dump() << ": " << e.what();
}

void expect_bad_completion(const Json& extra, const std::string& param) {
  ApiError e = error_of([&] { parse_completion_request(completion_body(extra)); });
  EXPECT_EQ(e.status(), 400) << extra.dump();
  EXPECT_EQ(e.param(), param) << extra.dump() << ": " << e.what();
}

TEST(ParseJsonBody, MalformedAndNonObjectBodiesAre400WithoutParam) {
  for (const char* body : {"", "{", "{\"a\":}", "nul", "[1,2]", "\"text\"", "42", "{\"a\":1}x"}) {
    ApiError e = error_of([&] { parse_json_body(body); });
    EXPECT_EQ(e.status(), 400) << body;
    EXPECT_EQ(e.param(), "") << body;
  }
  EXPECT_EQ(parse_json_body(R"({"a": [1, {"b": null}]})")["a"][1]["b"], nullptr);
}

TEST(ParseJsonBody, DeepNestingIsRejectedQuickly) {
  const std::string deep = "{\"a\":" + std::string(1000000, '[') + std::string(1000000, ']') + "}";
  ApiError e = error_of([&] { parse_json_body(deep); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_NE(std::string(e.what()).find("deeper"), std::string::npos) << e.what();
  std::string ok = "{\"a\":" + std::string(kMaxJsonDepth - 1, '[') + std::string(kMaxJsonDepth - 1, ']') + "}";
  EXPECT_NO_THROW(parse_json_body(ok));
}

TEST(ParseChat, DefaultsFollowOpenAi) {
  OpenAiRequest r = parse_chat_request(chat_body());
  EXPECT_EQ(r.endpoint, Endpoint::kChat);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.n, 1);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_EQ(r.logprobs, -1);
  EXPECT_FALSE(r.seeded);
  const SamplingParams& s = r.generate.sampling;
  EXPECT_EQ(s.temperature, 1.0f);
  EXPECT_EQ(s.top_p, 1.0f);
  EXPECT_EQ(s.top_k, 0);
  EXPECT_EQ(s.min_p, 0.0f);
  EXPECT_FALSE(s.has_penalties());
  EXPECT_NO_THROW(s.validate());
  EXPECT_EQ(r.generate.max_tokens, -1);  // chat: until the end of generation
  EXPECT_EQ(r.generate.min_tokens, 0);
  EXPECT_TRUE(r.generate.stop.empty());
  EXPECT_FALSE(r.generate.ignore_eos);
}

TEST(ParseChat, ReadsEveryParameter) {
  OpenAiRequest r = parse_chat_request(chat_body({{"n", 3},
                                                  {"stream", true},
                                                  {"stream_options", {{"include_usage", true}}},
                                                  {"temperature", 0.5},
                                                  {"top_p", 0.9},
                                                  {"top_k", 40},
                                                  {"min_p", 0.05},
                                                  {"frequency_penalty", 0.5},
                                                  {"presence_penalty", -0.5},
                                                  {"repetition_penalty", 1.1},
                                                  {"seed", 1234},
                                                  {"stop", {"a", "", "bc"}},
                                                  {"max_tokens", 7},
                                                  {"min_tokens", 2},
                                                  {"ignore_eos", true},
                                                  {"logprobs", true},
                                                  {"top_logprobs", 5},
                                                  {"user", "someone"},
                                                  {"unknown_field", {{"x", 1}}}}));
  EXPECT_EQ(r.n, 3);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  const SamplingParams& s = r.generate.sampling;
  EXPECT_EQ(s.temperature, 0.5f);
  EXPECT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_EQ(s.min_p, 0.05f);
  EXPECT_EQ(s.frequency_penalty, 0.5f);
  EXPECT_EQ(s.presence_penalty, -0.5f);
  EXPECT_EQ(s.repetition_penalty, 1.1f);
  EXPECT_EQ(s.seed, 1234u);
  EXPECT_TRUE(r.seeded);
  EXPECT_EQ(r.generate.stop, (std::vector<std::string>{"a", "bc"}));  // empty stops dropped
  EXPECT_EQ(r.generate.max_tokens, 7);
  EXPECT_EQ(r.generate.min_tokens, 2);
  EXPECT_TRUE(r.generate.ignore_eos);
  EXPECT_EQ(r.logprobs, 5);
}

TEST(ParseChat, SmallDetails) {
  EXPECT_EQ(parse_chat_request(chat_body({{"stop", "###"}})).generate.stop, std::vector<std::string>{"###"});
  EXPECT_EQ(parse_chat_request(chat_body({{"max_tokens", 5}, {"max_completion_tokens", 9}})).generate.max_tokens, 9);
  EXPECT_EQ(parse_chat_request(chat_body({{"logprobs", true}})).logprobs, 0);
  EXPECT_EQ(parse_chat_request(chat_body({{"logprobs", false}})).logprobs, -1);
  EXPECT_EQ(parse_chat_request(chat_body({{"top_k", -1}})).generate.sampling.top_k, 0);  // vLLM's "off"
  EXPECT_EQ(parse_chat_request(chat_body({{"n", 2.0}})).n, 2);  // integral float
  EXPECT_EQ(parse_chat_request(chat_body({{"seed", -5}})).generate.sampling.seed, uint64_t(-5));
  EXPECT_NE(parse_chat_request(chat_body({{"seed", -1}})).generate.sampling.seed, kRandomSeed);
  EXPECT_EQ(parse_chat_request(chat_body({{"temperature", nullptr}})).generate.sampling.temperature, 1.0f);
  EXPECT_EQ(parse_chat_request(chat_body({{"temperature", 0}})).generate.sampling.temperature, 0.0f);
  EXPECT_EQ(parse_chat_request(chat_body({{"model", nullptr}})).model, "");
  EXPECT_NO_THROW(parse_chat_request(chat_body({{"tools", Json::array()}, {"response_format", {{"type", "text"}}}})));
}

TEST(ParseChat, NormalizesMessages) {
  Json msgs = Json::array({
      {{"role", "developer"}, {"content", "be brief"}},
      {{"role", "user"}, {"content", Json::array({{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}})}, {"name", "x"}},
      {{"role", "assistant"}, {"content", nullptr}},
      {{"role", "user"}, {"content", ""}},
  });
  OpenAiRequest r = parse_chat_request(chat_body({{"messages", msgs}}));
  Json want = Json::array({
      {{"role", "system"}, {"content", "be brief"}},
      {{"role", "user"}, {"content", "a\nb"}},
      {{"role", "assistant"}, {"content", ""}},
      {{"role", "user"}, {"content", ""}},
  });
  EXPECT_EQ(r.messages, want);
}

TEST(ParseChat, BadMessagesNameTheField) {
  Json no_messages = chat_body();
  no_messages.erase("messages");
  EXPECT_EQ(error_of([&] { parse_chat_request(no_messages); }).param(), "messages");
  expect_bad_chat({{"messages", "hello"}}, "messages");
  expect_bad_chat({{"messages", Json::array()}}, "messages");
  expect_bad_chat({{"messages", {1}}}, "messages[0]");
  expect_bad_chat({{"messages", {{{"content", "x"}}}}}, "messages[0].role");
  expect_bad_chat({{"messages", {{{"role", 3}, {"content", "x"}}}}}, "messages[0].role");
  expect_bad_chat({{"messages", {{{"role", "user"}, {"content", "x"}}, {{"role", "wizard"}, {"content", "x"}}}}}, "messages[1].role");
  expect_bad_chat({{"messages", {{{"role", "tool"}, {"content", "x"}}}}}, "messages[0].tool_call_id");
  expect_bad_chat({{"messages", {{{"role", "function"}, {"content", "x"}}}}}, "messages[0].role");
  expect_bad_chat({{"messages", {{{"role", "assistant"}, {"tool_calls", {{{"id", "c"}}}}}}}}, "messages[0].tool_calls[0].function.name");
  expect_bad_chat({{"messages", {{{"role", "user"}}}}}, "messages[0].content");
  expect_bad_chat({{"messages", {{{"role", "user"}, {"content", 5}}}}}, "messages[0].content");
  expect_bad_chat({{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}, {"image_url", "x"}}}}}}}},
                  "messages[0].content[0].type");
  expect_bad_chat({{"messages", {{{"role", "user"}, {"content", {{{"type", "text"}}}}}}}}, "messages[0].content[0].text");
  expect_bad_chat({{"messages", {{{"role", "user"}, {"content", {"plain"}}}}}}, "messages[0].content[0]");
}

TEST(ParseChat, WrongTypesNameTheField) {
  expect_bad_chat({{"temperature", "hot"}}, "temperature");
  expect_bad_chat({{"temperature", true}}, "temperature");
  expect_bad_chat({{"top_p", Json::array()}}, "top_p");
  expect_bad_chat({{"n", 1.5}}, "n");
  expect_bad_chat({{"n", "2"}}, "n");
  expect_bad_chat({{"stream", "yes"}}, "stream");
  expect_bad_chat({{"stream", 1}}, "stream");
  expect_bad_chat({{"stream_options", true}}, "stream_options");
  expect_bad_chat({{"stream_options", {{"include_usage", "x"}}}}, "stream_options.include_usage");
  expect_bad_chat({{"stop", 5}}, "stop");
  expect_bad_chat({{"stop", {"a", 1}}}, "stop");
  expect_bad_chat({{"seed", "42"}}, "seed");
  expect_bad_chat({{"max_tokens", "10"}}, "max_tokens");
  expect_bad_chat({{"logprobs", 1}}, "logprobs");
  expect_bad_chat({{"model", 7}}, "model");
  expect_bad_chat({{"user", 7}}, "user");
  expect_bad_chat({{"ignore_eos", "true"}}, "ignore_eos");
}

TEST(ParseChat, OutOfRangeValuesNameTheField) {
  expect_bad_chat({{"temperature", -0.1}}, "temperature");
  expect_bad_chat({{"temperature", 2.01}}, "temperature");
  expect_bad_chat({{"top_p", 0}}, "top_p");
  expect_bad_chat({{"top_p", 1.5}}, "top_p");
  expect_bad_chat({{"top_k", -2}}, "top_k");
  expect_bad_chat({{"min_p", 1.1}}, "min_p");
  expect_bad_chat({{"frequency_penalty", 2.5}}, "frequency_penalty");
  expect_bad_chat({{"presence_penalty", -2.5}}, "presence_penalty");
  expect_bad_chat({{"repetition_penalty", 0}}, "repetition_penalty");
  expect_bad_chat({{"repetition_penalty", -1}}, "repetition_penalty");
  expect_bad_chat({{"n", 0}}, "n");
  expect_bad_chat({{"n", kMaxChoices + 1}}, "n");
  expect_bad_chat({{"max_tokens", 0}}, "max_tokens");
  expect_bad_chat({{"max_completion_tokens", -3}}, "max_completion_tokens");
  expect_bad_chat({{"min_tokens", -1}}, "min_tokens");
  expect_bad_chat({{"max_tokens", 3}, {"min_tokens", 4}}, "min_tokens");
  expect_bad_chat({{"stop", {"a", "b", "c", "d", "e"}}}, "stop");
  expect_bad_chat({{"logprobs", true}, {"top_logprobs", 21}}, "top_logprobs");
  expect_bad_chat({{"logprobs", true}, {"top_logprobs", -1}}, "top_logprobs");
  expect_bad_chat({{"top_logprobs", 2}}, "top_logprobs");  // needs logprobs: true
  expect_bad_chat({{"seed", 1e30}}, "seed");
}

TEST(ParseChat, UnsupportedOptionsAreRejectedNotIgnored) {
  expect_bad_chat({{"logit_bias", {{"50256", -100}}}}, "logit_bias");
  expect_bad_chat({{"tools", {{{"type", "function"}}}}}, "tools[0].function");
  expect_bad_chat({{"response_format", {{"type", "xml"}}}}, "response_format.type");
  expect_bad_chat({{"response_format", {{"type", "json_schema"}}}}, "response_format.json_schema");
  expect_bad_chat({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", {{"type", "object"}, {"not", {{"type", "null"}}}}}}}}}},
                  "response_format.json_schema.schema");
  expect_bad_chat({{"grammar", "root ::= undefined-rule"}}, "grammar");
  expect_bad_chat({{"grammar", "root ::= \"a\""}, {"json_schema", {{"type", "string"}}}}, "json_schema");
  expect_bad_chat({{"best_of", 3}}, "best_of");
}

TEST(ParseChat, StructuredOutputGivesAGrammar) {
  EXPECT_EQ(parse_chat_request(chat_body({{"response_format", {{"type", "text"}}}})).generate.grammar, nullptr);
  EXPECT_NE(parse_chat_request(chat_body({{"response_format", {{"type", "json_object"}}}})).generate.grammar, nullptr);
  const Json schema = {{"type", "json_schema"},
                       {"json_schema", {{"name", "p"}, {"strict", true}, {"schema", {{"type", "object"}}}}}};
  const auto g = parse_chat_request(chat_body({{"response_format", schema}})).generate.grammar;
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(parse_chat_request(chat_body({{"response_format", schema}})).generate.grammar, g);
  EXPECT_NE(parse_completion_request(completion_body({{"grammar", "root ::= [a-z]+"}})).generate.grammar, nullptr);
  EXPECT_NE(parse_completion_request(completion_body({{"json_schema", {{"type", "integer"}}}})).generate.grammar, nullptr);
}

TEST(ParseCompletion, PromptShapes) {
  OpenAiRequest r = parse_completion_request(completion_body());
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(r.prompts[0].text, "Once upon a time");
  EXPECT_FALSE(r.prompts[0].is_tokens);
  EXPECT_EQ(r.generate.max_tokens, kCompletionDefaultMaxTokens);

  r = parse_completion_request(completion_body({{"prompt", {"a", "b", ""}}}));
  ASSERT_EQ(r.prompts.size(), 3u);
  EXPECT_EQ(r.prompts[1].text, "b");

  r = parse_completion_request(completion_body({{"prompt", {1, 2, 3}}}));
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_TRUE(r.prompts[0].is_tokens);
  EXPECT_EQ(r.prompts[0].tokens, (std::vector<int32_t>{1, 2, 3}));

  r = parse_completion_request(completion_body({{"prompt", {{1, 2}, {3}}}}));
  ASSERT_EQ(r.prompts.size(), 2u);
  EXPECT_EQ(r.prompts[1].tokens, std::vector<int32_t>{3});
}

TEST(ParseCompletion, BadPromptsAndOptions) {
  Json no_prompt = completion_body();
  no_prompt.erase("prompt");
  EXPECT_EQ(error_of([&] { parse_completion_request(no_prompt); }).param(), "prompt");
  expect_bad_completion({{"prompt", 5}}, "prompt");
  expect_bad_completion({{"prompt", Json::array()}}, "prompt");
  expect_bad_completion({{"prompt", {"a", 1}}}, "prompt");
  expect_bad_completion({{"prompt", {1, "a"}}}, "prompt");
  expect_bad_completion({{"prompt", {1, -2}}}, "prompt");
  expect_bad_completion({{"prompt", {1, 2.5}}}, "prompt");
  expect_bad_completion({{"prompt", {{1}, Json::array()}}}, "prompt");
  expect_bad_completion({{"prompt", {1, 5000000000}}}, "prompt");
  expect_bad_completion({{"logprobs", 6}}, "logprobs");
  expect_bad_completion({{"logprobs", true}}, "logprobs");
  expect_bad_completion({{"echo", true}}, "echo");
  expect_bad_completion({{"suffix", "end"}}, "suffix");
  expect_bad_completion({{"prompt", {"a", "b", "c"}}, {"n", 50}}, "n");  // 150 choices
  EXPECT_EQ(parse_completion_request(completion_body({{"logprobs", 0}})).logprobs, 0);
  EXPECT_EQ(parse_completion_request(completion_body({{"logprobs", 5}})).logprobs, 5);
  EXPECT_EQ(parse_completion_request(completion_body({{"echo", false}, {"suffix", nullptr}})).n, 1);
}

TEST(ApiErrorShape, MatchesOpenAi) {
  Json j = error_json(ApiError::invalid("bad", "temperature"));
  EXPECT_EQ(j, Json::parse(R"({"error":{"message":"bad","type":"invalid_request_error","param":"temperature","code":null}})"));
  ApiError nf = ApiError::model_not_found("gpt-9");
  EXPECT_EQ(nf.status(), 404);
  EXPECT_EQ(error_json(nf)["error"]["code"], "model_not_found");
  EXPECT_NE(std::string(nf.what()).find("gpt-9"), std::string::npos);
  ApiError cl = ApiError::context_length("too long", "prompt");
  EXPECT_EQ(cl.status(), 400);
  EXPECT_EQ(error_json(cl)["error"]["code"], "context_length_exceeded");
  EXPECT_EQ(error_json(cl)["error"]["param"], "prompt");
  EXPECT_STREQ(error_type_for_status(500), "server_error");
  EXPECT_STREQ(error_type_for_status(413), "invalid_request_error");
}

TEST(ApiErrorShape, WireJsonSurvivesInvalidUtf8) {
  Json j = {{"text", std::string("a\xe2\x82")}};  // a character cut in half
  EXPECT_EQ(to_wire(j), "{\"text\":\"a\xef\xbf\xbd\"}");
}

}  // namespace
}  // namespace nagare
