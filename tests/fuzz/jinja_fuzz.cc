// libFuzzer target for the chat template interpreter: the input is a template source. It is
// parsed (ChatTemplate's constructor: lexer, parser, constant folding) and rendered with a fixed
// small conversation (system, user, assistant with a tool call, tool, user) and a tools list,
// as the server renders a GGUF's chat template. Both steps must succeed or throw the
// interpreter's own error, ChatTemplateError (a nagare::Error with a category). The
// interpreter's limits (output and string size, allocations, steps, nesting) bound what a
// hostile template can cost, so a hang or an out-of-memory is a finding too.
// Build and run: see tests/fuzz/CMakeLists.txt and docs/fuzzing.md.
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>

#include "chat/chat_error.h"
#include "chat/chat_template.h"

namespace {

using nagare::ChatRenderOptions;
using Json = nlohmann::ordered_json;

const Json& messages() {
  static const Json m = Json::parse(R"([
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What's the weather in Paris? <b>&amp;</b> \u00e9\u4e2d\ud83d\ude00"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]},
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp\": 21.5}"},
    {"role": "assistant", "content": "<think>\nWarm.\n</think>\nIt is 21.5 \u00b0C."},
    {"role": "user", "content": [{"type": "text", "text": "Thanks!"}]}
  ])");
  return m;
}

const ChatRenderOptions& options() {
  static const ChatRenderOptions o = [] {
    ChatRenderOptions r;
    r.extra = Json::parse(R"({
      "tools": [{"type": "function", "function": {"name": "get_weather",
        "description": "Weather forecast", "parameters": {"type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"]}}}],
      "enable_thinking": true,
      "date_string": "06 Dec 2026"
    })");
    std::tm t{};
    t.tm_year = 2026 - 1900;
    t.tm_mon = 11;
    t.tm_mday = 6;
    t.tm_hour = 12;
    t.tm_wday = 0;
    t.tm_yday = 339;
    r.now = t;
    return r;
  }();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string source(reinterpret_cast<const char*>(data), size);
  size_t n = 0;
  try {
    nagare::ChatTemplate t(std::move(source), "<s>", "</s>");
    n = t.render_json(messages(), true, options()).size();
  } catch (const nagare::ChatTemplateError& e) {
    if (nagare::chat_error_kind_name(e.kind()) == "?") std::abort();
    return 0;  // a syntax or render error
  }
  // Anything else thrown escapes and is reported by libFuzzer.
  return n == 0xdeadbeef;  // keeps `n` alive; libFuzzer ignores the value
}
