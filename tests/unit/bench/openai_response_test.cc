// Responses of OpenAI-compatible servers, good and bad, fed as curl would: in arbitrary pieces
// with arrival times. Timings come from when content chunks arrive; counts from `usage`.
#include "bench/openai_response.h"

#include <gtest/gtest.h>

namespace nagare::bench {
namespace {

std::string chat_chunk(const std::string& content, const char* finish = nullptr) {
  nlohmann::json j = {{"id", "x"}, {"object", "chat.completion.chunk"},
                      {"choices", {{{"index", 0}, {"delta", {{"content", content}}}, {"finish_reason", nullptr}}}}};
  if (finish) j["choices"][0]["finish_reason"] = finish;
  return "data: " + j.dump() + "\n\n";
}

const std::string kUsage =
    "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}\n\n";

// Feeds `parts`, the i-th arriving at times[i].
RequestRecord feed(Endpoint ep, bool stream, const std::vector<std::string>& parts, const std::vector<double>& times,
                   long status = 200, const std::string& transport = "") {
  OpenAiResponse r(ep, stream);
  for (size_t i = 0; i < parts.size(); ++i) r.on_data(parts[i], times[i]);
  return r.finish(status, transport, 0.0, times.empty() ? 1.0 : times.back() + 0.01);
}

TEST(OpenAiResponse, StreamedChatTimesContentChunksAndTakesUsage) {
  // A role-only first delta (no content) must not count as the first token.
  std::string role = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n";
  auto rec = feed(Endpoint::kChat, true,
                  {role, chat_chunk("Hel"), chat_chunk("lo"), chat_chunk("!", "length"), kUsage, "data: [DONE]\n\n"},
                  {0.05, 0.25, 0.35, 0.55, 0.56, 0.57});
  ASSERT_TRUE(rec.ok) << rec.error;
  EXPECT_NEAR(rec.ttft_s, 0.25, 1e-12);
  ASSERT_EQ(rec.itl_s.size(), 2u);
  EXPECT_NEAR(rec.itl_s[0], 0.10, 1e-12);
  EXPECT_NEAR(rec.itl_s[1], 0.20, 1e-12);
  EXPECT_TRUE(rec.usage_reported);
  EXPECT_EQ(rec.prompt_tokens, 12);
  EXPECT_EQ(rec.completion_tokens, 3);
  EXPECT_EQ(rec.content_chunks, 3);
  EXPECT_EQ(rec.finish_reason, "length");
  EXPECT_NEAR(rec.e2e_s(), 0.58, 1e-12);
}

TEST(OpenAiResponse, SplitAnywhereGivesTheSameRecord) {
  std::string s = chat_chunk("a") + chat_chunk("b") + chat_chunk("c", "stop") + kUsage + "data: [DONE]\n\n";
  auto whole = feed(Endpoint::kChat, true, {s}, {0.5});
  ASSERT_TRUE(whole.ok);
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    auto rec = feed(Endpoint::kChat, true, {s.substr(0, cut), s.substr(cut)}, {0.5, 0.5});
    ASSERT_TRUE(rec.ok) << "cut " << cut << ": " << rec.error;
    EXPECT_EQ(rec.completion_tokens, 3) << cut;
    EXPECT_EQ(rec.prompt_tokens, 12) << cut;
    EXPECT_EQ(rec.content_chunks, 3) << cut;
  }
}

TEST(OpenAiResponse, ChunksArrivingTogetherShareTheirArrivalTime) {
  auto rec = feed(Endpoint::kChat, true, {chat_chunk("a") + chat_chunk("b"), chat_chunk("c") + "data: [DONE]\n\n"},
                  {0.2, 0.5});
  ASSERT_TRUE(rec.ok);
  ASSERT_EQ(rec.itl_s.size(), 2u);
  EXPECT_DOUBLE_EQ(rec.itl_s[0], 0.0);
  EXPECT_NEAR(rec.itl_s[1], 0.3, 1e-12);
}

TEST(OpenAiResponse, ReasoningContentCountsAsOutput) {
  std::string r = "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\n";
  auto rec = feed(Endpoint::kChat, true, {r, chat_chunk("ok", "stop"), "data: [DONE]\n\n"}, {0.1, 0.2, 0.3});
  ASSERT_TRUE(rec.ok);
  EXPECT_NEAR(rec.ttft_s, 0.1, 1e-12);
  EXPECT_EQ(rec.content_chunks, 2);
}

TEST(OpenAiResponse, StreamedCompletionsUseText) {
  std::string a = "data: {\"choices\":[{\"text\":\" one\",\"finish_reason\":null}]}\n\n";
  std::string b = "data: {\"choices\":[{\"text\":\" two\",\"finish_reason\":\"length\"}]}\n\n";
  auto rec = feed(Endpoint::kCompletions, true, {a, b, "data: [DONE]\n\n"}, {0.1, 0.3, 0.31});
  ASSERT_TRUE(rec.ok) << rec.error;
  EXPECT_FALSE(rec.usage_reported);
  EXPECT_EQ(rec.completion_tokens, 2) << "without usage, one token per content chunk";
  EXPECT_EQ(rec.prompt_tokens, 0);
  ASSERT_EQ(rec.itl_s.size(), 1u);
}

TEST(OpenAiResponse, NonStreamedChatAndCompletions) {
  std::string chat =
      R"({"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},)"
      R"("finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":2,"total_tokens":22}})";
  auto rec = feed(Endpoint::kChat, false, {chat.substr(0, 10), chat.substr(10)}, {0.4, 0.9});
  ASSERT_TRUE(rec.ok) << rec.error;
  EXPECT_LT(rec.ttft_s, 0) << "no TTFT without streaming";
  EXPECT_TRUE(rec.itl_s.empty());
  EXPECT_EQ(rec.prompt_tokens, 20);
  EXPECT_EQ(rec.completion_tokens, 2);
  EXPECT_EQ(rec.finish_reason, "stop");
  std::string comp = R"({"choices":[{"text":"x","finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":1}})";
  auto c = feed(Endpoint::kCompletions, false, {comp}, {0.2});
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.prompt_tokens, 5);
}

TEST(OpenAiResponse, ServerThatIgnoresStreamStillCounts) {
  std::string whole =
      R"({"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":9,"completion_tokens":2}})";
  auto rec = feed(Endpoint::kChat, true, {whole.substr(0, 7), whole.substr(7)}, {0.2, 0.4});
  ASSERT_TRUE(rec.ok) << rec.error;
  EXPECT_LT(rec.ttft_s, 0) << "an unstreamed answer has no first-token time";
  EXPECT_EQ(rec.prompt_tokens, 9);
  EXPECT_EQ(rec.completion_tokens, 2);
  auto bad = feed(Endpoint::kChat, true, {R"({"choices":[{"text":1}]})"}, {0.1});
  EXPECT_FALSE(bad.ok);
}

struct BadCase {
  const char* name;
  bool stream;
  long status;
  std::string body;
  std::string transport;
  std::string expected;  // a substring of the failure reason
};

TEST(OpenAiResponse, BadResponsesFailWithAReason) {
  std::vector<BadCase> cases = {
      {"openai error body", true, 500, R"({"error":{"message":"engine exploded","type":"server_error"}})", "",
       "HTTP 500: engine exploded"},
      {"fastapi detail", false, 422, R"({"detail":[{"loc":["body","messages"]}]})", "", "HTTP 422: [{\"loc\""},
      {"plain text 503", true, 503, "Service Unavailable\n", "", "HTTP 503: Service Unavailable"},
      {"empty 404", false, 404, "", "", "HTTP 404"},
      {"garbage 200 stream", true, 200, "<html>hello</html>", "", "not an event stream: <html>hello</html>"},
      {"garbage 200 json", false, 200, "<html>hello</html>", "", "response is not JSON"},
      {"json without choices", false, 200, R"({"foo":1})", "", "not OpenAI-shaped: no \"choices\""},
      {"array body", false, 200, "[1,2]", "", "not OpenAI-shaped: expected an object"},
      {"choice without message", false, 200, R"({"choices":[{"text":"x"}]})", "", "without \"message\""},
      {"error in a 200 stream", true, 200, "data: {\"error\":{\"message\":\"out of memory\"}}\n\n", "",
       "server error: out of memory"},
      {"json error, status 200, streamed", true, 200, R"({"error":"model not loaded"})", "",
       "server error: model not loaded"},
      {"chunk not json", true, 200, "data: {oops\n\n", "", "stream chunk is not JSON: {oops"},
      {"stream cut short", true, 200, chat_chunk("a"), "", "stream ended before [DONE]"},
      {"stream without choices", true, 200, "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n",
       "", "stream had no \"choices\""},
      {"usage of wrong type", false, 200, R"({"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":"3"}})",
       "", "\"usage\" without integer"},
      {"empty body", true, 200, "", "", "empty response body"},
      {"transport error", true, 0, "", "connection refused (could not connect)", "connection refused"},
      {"partial then reset", true, 200, chat_chunk("a"), "response cut short (connection closed)", "response cut short"},
  };
  for (const BadCase& c : cases) {
    auto rec = feed(Endpoint::kChat, c.stream, {c.body}, {0.1}, c.status, c.transport);
    EXPECT_FALSE(rec.ok) << c.name;
    EXPECT_NE(rec.error.find(c.expected), std::string::npos) << c.name << ": got \"" << rec.error << "\"";
    EXPECT_EQ(rec.error.find('\n'), std::string::npos) << c.name << ": reasons are one line";
  }
}

TEST(OpenAiResponse, HttpStatusWinsOverTransportError) {
  auto rec = feed(Endpoint::kChat, true, {R"({"error":{"message":"bad key"}})"}, {0.1}, 401, "timed out after 5s");
  EXPECT_EQ(rec.error, "HTTP 401: bad key");
}

TEST(OpenAiResponse, DoneWithoutFinishReasonIsFineAndDataAfterDoneIsIgnored) {
  auto rec = feed(Endpoint::kChat, true, {chat_chunk("a") + "data: [DONE]\n\n" + "data: {garbage\n\n"}, {0.1});
  EXPECT_TRUE(rec.ok) << rec.error;
}

TEST(Excerpt, OneLineBoundedAndUtf8Safe) {
  EXPECT_EQ(excerpt("a\nb\r\n\tc"), "a b c");
  EXPECT_EQ(excerpt(std::string("x\x01y", 3)), "x\\x01y");
  EXPECT_EQ(excerpt("abcdef", 3), "abc...");
  // Three 3-byte characters cut after two: never half a character.
  EXPECT_EQ(excerpt("\xE3\x81\x82\xE3\x81\x84\xE3\x81\x86", 2), "\xE3\x81\x82\xE3\x81\x84...");
  EXPECT_EQ(excerpt("short", 100), "short");
}

}  // namespace
}  // namespace nagare::bench
