// Inputs that json_fuzz (tests/fuzz/) found mishandled: each must now be an ApiError (400), the
// API's typed error, and not another exception (which the server answers with a 500) or a value
// the engine refuses. The inputs are also in tests/fuzz/corpus/json_fuzz/crash_*.json.
#include <gtest/gtest.h>

#include "api/api_error.h"
#include "api/openai_request.h"

namespace nagare {
namespace {

template <class F>
ApiError api_error_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an ApiError: " << e.what();
    return ApiError(0, "", "");
  }
  ADD_FAILURE() << "no ApiError thrown";
  return ApiError(0, "", "");
}

// nlohmann's parser throws out_of_range (not parse_error) for a number beyond double's range.
TEST(FuzzRegressions, NumberOverflowInTheBodyIs400) {
  for (const char* body : {R"({"messages": [], "seed": 1844674407370955e1615})", R"({"a": 1e999})",
                           R"({"a": -1E400})", R"([1e309])"}) {
    ApiError e = api_error_of([&] { parse_json_body(body); });
    EXPECT_EQ(e.status(), 400) << body;
    EXPECT_EQ(e.type(), "invalid_request_error") << body;
    EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos) << e.what();
  }
}

// A positive top_p or repetition_penalty below float's smallest value rounds to 0, which
// SamplingParams::validate() (the engine) refuses: the API rejects it with its own 400 instead.
TEST(FuzzRegressions, ValuesThatRoundToZeroAsFloatAre400) {
  for (const char* field : {"top_p", "repetition_penalty"}) {
    for (double v : {1e-50, 1e-300, 5e-324}) {
      Json body = {{"prompt", "x"}, {field, v}};
      ApiError e = api_error_of([&] { parse_completion_request(body); });
      EXPECT_EQ(e.status(), 400) << field << " " << v;
      EXPECT_EQ(e.param(), field);
      body["messages"] = Json::array({{{"role", "user"}, {"content", "hi"}}});
      EXPECT_EQ(api_error_of([&] { parse_chat_request(body); }).param(), field);
    }
  }
  // The smallest positive float still passes, and the engine accepts it.
  Json body = {{"prompt", "x"}, {"top_p", 1.5e-45}, {"repetition_penalty", 1.5e-45}};
  const OpenAiRequest r = parse_completion_request(body);
  EXPECT_GT(r.generate.sampling.top_p, 0.0f);
  EXPECT_NO_THROW(r.generate.sampling.validate());
}

}  // namespace
}  // namespace nagare
