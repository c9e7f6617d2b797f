// The --url backend's wire format: the request a call becomes and the answers it reads back,
// OpenAI's and Ollama's error shapes included.
#include <gtest/gtest.h>

#include "pipeline/openai_backend.h"
#include "util/error.h"

namespace nagare {
namespace {

TEST(OpenAiBackend, ReadsAChatCompletion) {
  LlmResult r = OpenAiBackend::parse_response(
      200, R"({"choices": [{"message": {"role": "assistant", "content": "{\"a\": 1}"}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 12, "completion_tokens": 5}})");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.text, "{\"a\": 1}");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.prompt_tokens, 12);
  EXPECT_EQ(r.completion_tokens, 5);
}

TEST(OpenAiBackend, ErrorsNameTheStatusAndTheServersMessage) {
  EXPECT_EQ(OpenAiBackend::parse_response(400, R"({"error": {"message": "too long", "type": "x"}})").error,
            "HTTP 400: too long");
  EXPECT_EQ(OpenAiBackend::parse_response(503, R"({"error": "overloaded"})").error, "HTTP 503: overloaded");
  EXPECT_EQ(OpenAiBackend::parse_response(502, "<html>bad gateway</html>").error, "HTTP 502: <html>bad gateway</html>");
  EXPECT_NE(OpenAiBackend::parse_response(200, R"({"choices": []})").error.find("not a chat completion"),
            std::string::npos);
  EXPECT_NE(OpenAiBackend::parse_response(200, "not json").error.find("not a chat completion"), std::string::npos);
  // A content that is not a string (a tool call, null) is an empty answer, not a crash.
  LlmResult r = OpenAiBackend::parse_response(200, R"({"choices": [{"message": {"content": null}}]})");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.text, "");
}

TEST(OpenAiBackend, UnreachableServerIsAClearError) {
  OpenAiBackendOptions o;
  o.url = "http://127.0.0.1:1";
  try {
    OpenAiBackend b(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot reach http://127.0.0.1:1/v1/models"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nagare
