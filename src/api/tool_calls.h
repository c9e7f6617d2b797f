// OpenAI tool calling: the request's tools and tool_choice; the format the model's chat
// template uses for calls (Hermes/Qwen <tool_call>, Llama 3.x JSON, Mistral [TOOL_CALLS], or a
// generic JSON form taught by a system message when the template knows no tools); the grammar
// that holds a required call to its function's parameter schema; and the parser that turns the
// model's output back into tool_calls, whole or as a stream.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/json_fields.h"
#include "grammar/grammar.h"

namespace nagare {

enum class ToolCallFormat {
  kGeneric,  // {"tool_calls": [{"name": ..., "arguments": {...}}]} (also a bare call object)
  kHermes,   // <tool_call>{"name": ..., "arguments": {...}}</tool_call>, one per call (Qwen 2/3, Hermes)
  kLlama3,   // {"name": ..., "parameters": {...}} (Llama 3.1+, optionally after <|python_tag|>)
  kMistral,  // [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]
};

struct ToolRequest {
  enum class Choice { kAuto, kNone, kRequired, kNamed };
  Json tools = Json::array();  // OpenAI's list as given: the template's `tools` variable
  Choice choice = Choice::kAuto;
  std::string named;           // kNamed: the function that must be called
  bool parallel = true;        // parallel_tool_calls: more than one call per answer
  // Tools reach the model and its output is parsed for calls.
  bool active() const { return !tools.empty() && choice != Choice::kNone; }
};

// tools, tool_choice and parallel_tool_calls of a chat request; throws ApiError naming the field.
ToolRequest parse_tool_request(const Json& body);

// How calls look in the output of a model with this chat template.
ToolCallFormat tool_call_format(std::string_view template_source);
// The template reads the `tools` variable (otherwise the tools go into a system message).
bool template_takes_tools(std::string_view template_source);

// The conversation as the template gets it. Assistant tool_calls carry their arguments as
// objects (templates write them with tojson). For a template that knows no tools, the tools and
// the generic call format are described in the system message, earlier calls are written in
// that format and tool results become user messages.
Json messages_for_template(const Json& messages, const ToolRequest& tools, bool takes_tools);

// The grammar of an answer that must call a tool (required, or a named function), each call's
// arguments held to its function's parameters schema; null when the model may answer freely.
// Throws ApiError naming the tool whose parameters schema is not supported.
std::shared_ptr<const Grammar> tool_call_grammar(const ToolRequest& tools, ToolCallFormat format);

struct ToolCall {
  std::string id;         // "call_" + 24 alphanumerics
  std::string name;
  std::string arguments;  // JSON text
};

struct ToolOutput {
  std::string content;  // the text that is not a call
  std::vector<ToolCall> calls;
};

// Splits a finished answer into text and calls. Lenient: a call that does not parse, or names no
// offered function, stays text.
ToolOutput parse_tool_output(std::string_view text, ToolCallFormat format, const ToolRequest& tools);

// The streaming side: text before a call streams as content at once (less what may be the start
// of a call marker); from a call's start on, the text is held and parsed at the end.
class ToolCallStream {
 public:
  explicit ToolCallStream(ToolCallFormat format) : format_(format) {}
  // The content that can be sent now.
  std::string push(std::string_view text);
  // At the end: the content still held and the calls.
  ToolOutput finish(const ToolRequest& tools);

 private:
  ToolCallFormat format_;
  std::string held_;         // text not sent yet
  bool in_call_ = false;     // a call marker was seen: hold everything from it on
  bool seen_text_ = false;   // content other than whitespace went out (a JSON call can no longer start)
};

}  // namespace nagare
