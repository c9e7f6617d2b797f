// libFuzzer target for OpenAI request bodies: the input is a request body as the server receives
// it. It goes through parse_json_body and then both parse_chat_request and
// parse_completion_request, as the /v1/chat/completions and /v1/completions routes do. Each
// step must succeed or throw nagare::Error (ApiError, the API's typed error); any other
// exception escapes and libFuzzer reports it as a crash. On success the request must also be
// usable downstream: its error or its messages serialize for the wire, its sampling values
// pass the engine's SamplingParams::validate(), and a chat request's messages render through
// the built-in ChatML template.
// Build and run: see tests/fuzz/CMakeLists.txt and docs/fuzzing.md.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/api_error.h"
#include "api/openai_request.h"
#include "chat/chat_template.h"
#include "util/error.h"

namespace {

using namespace nagare;

const ChatTemplate& chatml() {
  static const ChatTemplate t(*ChatTemplate::builtin_source("chatml"), "<s>", "</s>");
  return t;
}

// What the router does with an ApiError: the OpenAI error shape, as JSON text for the wire.
size_t answer_error(const ApiError& e) {
  if (e.status() < 400 || e.status() > 599) std::abort();
  return to_wire(error_json(e)).size();
}

size_t check_request(const OpenAiRequest& r) {
  size_t sum = r.model.size() + r.generate.stop.size();
  if (r.n < 1 || r.n > kMaxChoices) std::abort();
  if (r.generate.max_tokens >= 0 && r.generate.min_tokens > r.generate.max_tokens) std::abort();
  // Values the API accepts must not be rejected by the engine's range check.
  r.generate.sampling.validate();
  if (r.endpoint == Endpoint::kChat) {
    sum += to_wire(r.messages).size();
    sum += chatml().render_json(r.messages, true).size();
  } else {
    if (r.prompts.empty() || r.prompts.size() * size_t(r.n) > size_t(kMaxChoices)) std::abort();
    for (const auto& p : r.prompts) sum += p.is_tokens ? p.tokens.size() : p.text.size();
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  Json j;
  try {
    j = parse_json_body(body);
  } catch (const ApiError& e) {
    answer_error(e);
    return 0;
  }
  size_t sum = 0;
  for (int endpoint = 0; endpoint < 2; ++endpoint) {
    try {
      const OpenAiRequest r = endpoint == 0 ? parse_chat_request(j) : parse_completion_request(j);
      sum += check_request(r);
    } catch (const ApiError& e) {
      sum += answer_error(e);
    }
    // A nagare::Error that is not an ApiError (from validate() or the template) is a finding:
    // it is not caught here, so libFuzzer reports it.
  }
  return sum == 0xdeadbeef;  // keeps `sum` alive; libFuzzer ignores the value
}
