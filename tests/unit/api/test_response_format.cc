// OpenAI response shapes: chat.completion(.chunk) and text_completion bodies and chunks, SSE
// framing, usage, the two logprobs shapes, model lists -- field for field as OpenAI sends them.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "api/openai_response.h"
#include "gguf/gguf_file.h"

namespace nagare {
namespace {

const Tokenizer& tok() {
  static std::unique_ptr<GgufFile> file =
      GgufFile::open(std::string(NAGARE_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf");
  static std::unique_ptr<Tokenizer> t = Tokenizer::from_gguf(*file);
  return *t;
}

int32_t id_of(const char* text) { return *tok().find_token(text); }

TokenEvent event(const char* token_text, const char* text, float lp, std::vector<TokenLogprob> top = {}) {
  TokenEvent e;
  e.token = id_of(token_text);
  e.text = text;
  e.logprob = lp;
  e.top = std::move(top);
  return e;
}

std::vector<std::string> keys(const Json& j) {
  std::vector<std::string> k;
  for (auto it = j.begin(); it != j.end(); ++it) k.push_back(it.key());
  return k;
}

TEST(ResponseIds, PrefixAndRandomTail) {
  const std::string a = make_response_id("chatcmpl-"), b = make_response_id("chatcmpl-");
  EXPECT_EQ(a.rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(a.size(), 9u + 24u);
  EXPECT_NE(a, b);
  OpenAiFormatter f(Endpoint::kCompletion, "m", tok(), false, 1);
  EXPECT_EQ(f.id().rfind("cmpl-", 0), 0u);
}

TEST(ChatChunks, ShapesOfRoleDeltaFinishAndUsage) {
  OpenAiFormatter f(Endpoint::kChat, "smol", tok(), /*usage_in_stream=*/true, 1700000000);
  Json role = f.role_chunk(0);
  EXPECT_EQ(keys(role), (std::vector<std::string>{"id", "object", "created", "model", "choices", "usage"}));
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["created"], 1700000000);
  EXPECT_EQ(role["model"], "smol");
  EXPECT_EQ(role["id"], f.id());
  EXPECT_TRUE(role["usage"].is_null());
  EXPECT_EQ(role["choices"], Json::parse(R"([{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}])"));

  Json delta = f.delta_chunk(1, "Hello", {}, false, 0);
  EXPECT_EQ(delta["choices"], Json::parse(R"([{"index":1,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}])"));
  Json fin = f.finish_chunk(1, FinishReason::kLength);
  EXPECT_EQ(fin["choices"], Json::parse(R"([{"index":1,"delta":{},"logprobs":null,"finish_reason":"length"}])"));
  EXPECT_EQ(f.finish_chunk(0, FinishReason::kStop)["choices"][0]["finish_reason"], "stop");

  Usage u{10, 5, 3};
  Json uc = f.usage_chunk(u);
  EXPECT_EQ(uc["choices"], Json::array());
  EXPECT_EQ(uc["usage"], Json::parse(R"({"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}})"));

  OpenAiFormatter plain(Endpoint::kChat, "smol", tok(), false, 1);
  EXPECT_FALSE(plain.role_chunk(0).contains("usage"));  // only with stream_options.include_usage
}

TEST(CompletionChunks, TextAndFinish) {
  OpenAiFormatter f(Endpoint::kCompletion, "smol", tok(), false, 5);
  Json d = f.delta_chunk(2, " world", {}, false, 0);
  EXPECT_EQ(d["object"], "text_completion");
  EXPECT_EQ(d["choices"], Json::parse(R"([{"index":2,"text":" world","logprobs":null,"finish_reason":null}])"));
  EXPECT_EQ(f.finish_chunk(2, FinishReason::kStop)["choices"],
            Json::parse(R"([{"index":2,"text":"","logprobs":null,"finish_reason":"stop"}])"));
}

TEST(Sse, Framing) {
  EXPECT_EQ(OpenAiFormatter::sse(Json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(OpenAiFormatter::kSseDone, "data: [DONE]\n\n");
  // Text cut inside a UTF-8 character must still give valid JSON.
  const std::string s = OpenAiFormatter::sse(Json{{"t", std::string("\xf0\x9f")}});
  EXPECT_NO_THROW(Json::parse(s.substr(6)));
}

TEST(Bodies, ChatAndCompletion) {
  std::vector<ChoiceResult> choices(2);
  choices[0].text = "Hi there";
  choices[0].finish = FinishReason::kStop;
  choices[1].text = "Hello";
  choices[1].finish = FinishReason::kLength;
  OpenAiFormatter chat(Endpoint::kChat, "smol", tok(), false, 7);
  Json b = chat.body(choices, {4, 6, 0}, false);
  EXPECT_EQ(keys(b), (std::vector<std::string>{"id", "object", "created", "model", "choices", "usage"}));
  EXPECT_EQ(b["object"], "chat.completion");
  EXPECT_EQ(b["choices"], Json::parse(R"([
    {"index":0,"message":{"role":"assistant","content":"Hi there"},"logprobs":null,"finish_reason":"stop"},
    {"index":1,"message":{"role":"assistant","content":"Hello"},"logprobs":null,"finish_reason":"length"}])"));
  EXPECT_EQ(b["usage"]["total_tokens"], 10);

  OpenAiFormatter comp(Endpoint::kCompletion, "smol", tok(), false, 7);
  Json c = comp.body(choices, {4, 6, 0}, false);
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["choices"][1], Json::parse(R"({"index":1,"text":"Hello","logprobs":null,"finish_reason":"length"})"));
}

TEST(ToolCallShapes, BodyAndStreamAsOpenAiSendsThem) {
  OpenAiFormatter f(Endpoint::kChat, "smol", tok(), false, 1);
  ChoiceResult r;
  r.finish = FinishReason::kStop;
  r.tool_calls = {{"call_abc", "get_weather", R"({"city":"Oslo"})"}};
  Json body = f.body({r}, Usage{}, false);
  const Json& c = body["choices"][0];
  EXPECT_EQ(c["finish_reason"], "tool_calls");
  EXPECT_TRUE(c["message"]["content"].is_null());
  EXPECT_EQ(c["message"]["tool_calls"][0],
            Json::parse(R"({"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}})"));
  r.text = "Checking.";
  EXPECT_EQ(f.body({r}, Usage{}, false)["choices"][0]["message"]["content"], "Checking.");

  std::vector<Json> chunks = f.tool_call_chunks(0, r.tool_calls);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0]["choices"][0]["delta"]["tool_calls"][0],
            Json::parse(R"({"index": 0, "id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": ""}})"));
  EXPECT_EQ(chunks[1]["choices"][0]["delta"]["tool_calls"][0],
            Json::parse(R"({"index": 0, "function": {"arguments": "{\"city\":\"Oslo\"}"}})"));
  EXPECT_EQ(f.finish_chunk(0, FinishReason::kStop, true)["choices"][0]["finish_reason"], "tool_calls");
}

TEST(Logprobs, ChatShape) {
  OpenAiFormatter f(Endpoint::kChat, "smol", tok(), false, 1);
  std::vector<TokenEvent> ev = {
      event("Hello", "Hello", -0.25f, {{id_of("Hello"), -0.25f}, {id_of("Hi"), -1.5f}}),
      event("<|im_end|>", "", -std::numeric_limits<float>::infinity(), {{id_of("<|im_end|>"), -0.1f}, {-1, 0.0f}}),
      TokenEvent{-1, "tail", 0.0f, {}},  // flushed text: no entry
  };
  Json j = f.logprobs_json(ev, 0);
  Json want = Json::parse(R"({"content":[
    {"token":"Hello","logprob":-0.25,"bytes":[72,101,108,108,111],
     "top_logprobs":[{"token":"Hello","logprob":-0.25,"bytes":[72,101,108,108,111]},
                     {"token":"Hi","logprob":-1.5,"bytes":[72,105]}]},
    {"token":"<|im_end|>","logprob":-9999.0,"bytes":[60,124,105,109,95,101,110,100,124,62],
     "top_logprobs":[{"token":"<|im_end|>","logprob":-0.10000000149011612,"bytes":[60,124,105,109,95,101,110,100,124,62]}]}]})");
  EXPECT_EQ(j, want) << j.dump();
  // In a chunk, the delta's logprobs carry the same entries.
  Json chunk = f.delta_chunk(0, "Hello", ev, true, 0);
  EXPECT_EQ(chunk["choices"][0]["logprobs"], want);
}

TEST(Logprobs, LegacyCompletionShapeWithTextOffsets) {
  OpenAiFormatter f(Endpoint::kCompletion, "smol", tok(), false, 1);
  std::vector<TokenEvent> ev = {
      event("Hello", "Hello", -0.5f, {{id_of("Hello"), -0.5f}, {id_of("Hi"), -1.0f}}),
      event("Ġworld", " world", -2.0f, {{id_of("Ġthere"), -0.75f}, {id_of("Ġworld"), -2.0f}}),
  };
  Json j = f.logprobs_json(ev, 100);
  EXPECT_EQ(j, Json::parse(R"({"tokens":["Hello"," world"],"token_logprobs":[-0.5,-2.0],
    "top_logprobs":[{"Hello":-0.5,"Hi":-1.0},{" there":-0.75," world":-2.0}],"text_offset":[100,105]})"))
      << j.dump();
  std::vector<ChoiceResult> choices(1);
  choices[0].text = "Hello world";
  choices[0].finish = FinishReason::kLength;
  choices[0].tokens = ev;
  Json body = f.body(choices, {1, 2, 0}, true);
  EXPECT_EQ(body["choices"][0]["logprobs"]["text_offset"], Json::parse("[0,5]"));
}

TEST(Models, ListShape) {
  EXPECT_EQ(model_list_json({"smol"}, 42),
            Json::parse(R"({"object":"list","data":[{"id":"smol","object":"model","created":42,"owned_by":"nagare"}]})"));
}

}  // namespace
}  // namespace nagare
