#include "api/tool_calls.h"

#include <gtest/gtest.h>

#include "api/api_error.h"
#include "grammar/gbnf_compose.h"

namespace nagare {
namespace {

Json weather_tool() {
  return Json::parse(R"({"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
                     "required": ["city"], "additionalProperties": false}}})");
}

ToolRequest tools_of(Json body) { return parse_tool_request(body); }

ToolRequest weather(const char* choice = "auto") {
  return tools_of({{"tools", Json::array({weather_tool()})}, {"tool_choice", choice}});
}

std::string refused_param(Json body) {
  try {
    parse_tool_request(body);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.param();
  }
  return "(accepted)";
}

TEST(ToolRequest, ParsesToolsAndChoices) {
  ToolRequest t = weather();
  ASSERT_EQ(t.tools.size(), 1u);
  EXPECT_EQ(t.tools[0]["function"]["name"], "get_weather");
  EXPECT_EQ(t.choice, ToolRequest::Choice::kAuto);
  EXPECT_TRUE(t.active());
  EXPECT_TRUE(t.parallel);
  EXPECT_FALSE(weather("none").active());
  EXPECT_EQ(weather("required").choice, ToolRequest::Choice::kRequired);
  ToolRequest named = tools_of({{"tools", Json::array({weather_tool()})},
                                {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}},
                                {"parallel_tool_calls", false}});
  EXPECT_EQ(named.choice, ToolRequest::Choice::kNamed);
  EXPECT_EQ(named.named, "get_weather");
  EXPECT_FALSE(named.parallel);
  EXPECT_FALSE(tools_of(Json::object()).active());
}

TEST(ToolRequest, BadToolsAreRefusedNamingTheField) {
  EXPECT_EQ(refused_param({{"tools", "get_weather"}}), "tools");
  EXPECT_EQ(refused_param({{"tools", {{{"type", "retrieval"}}}}}), "tools[0].type");
  EXPECT_EQ(refused_param({{"tools", {{{"type", "function"}, {"function", {{"name", "bad name"}}}}}}}),
            "tools[0].function.name");
  EXPECT_EQ(refused_param({{"tools", {weather_tool(), weather_tool()}}}), "tools[1].function.name");
  EXPECT_EQ(refused_param({{"tool_choice", "required"}}), "tool_choice");
  EXPECT_EQ(refused_param({{"tools", {weather_tool()}}, {"tool_choice", "sometimes"}}), "tool_choice");
  EXPECT_EQ(refused_param({{"tools", {weather_tool()}}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}),
            "tool_choice.function.name");
  EXPECT_EQ(refused_param({{"tools", {weather_tool()}}, {"parallel_tool_calls", "yes"}}), "parallel_tool_calls");
}

TEST(ToolCallFormat, FollowsTheTemplate) {
  EXPECT_EQ(tool_call_format("{% for tool in tools %}...<tool_call>...{% endfor %}"), ToolCallFormat::kHermes);
  EXPECT_EQ(tool_call_format("[AVAILABLE_TOOLS]{{ tools | tojson }}[TOOL_CALLS]"), ToolCallFormat::kMistral);
  EXPECT_EQ(tool_call_format("<|start_header_id|>ipython{% if tools %}<|python_tag|>"), ToolCallFormat::kLlama3);
  EXPECT_EQ(tool_call_format("<|im_start|>{{ message.content }}<|im_end|>"), ToolCallFormat::kGeneric);
  EXPECT_TRUE(template_takes_tools("{% if tools %}x{% endif %}"));
  EXPECT_FALSE(template_takes_tools("{{ message.toolset }} {{ my_tools }}"));
}

TEST(ToolCalls, TemplateWithoutToolsGetsThemInTheSystemMessage) {
  Json messages = Json::parse(R"([
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}])");
  Json out = messages_for_template(messages, weather(), /*takes_tools=*/false);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0]["role"], "system");
  EXPECT_NE(out[0]["content"].get<std::string>().find("get_weather"), std::string::npos);
  EXPECT_NE(out[0]["content"].get<std::string>().find("\"tool_calls\""), std::string::npos);
  EXPECT_EQ(out[2]["content"], R"({"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]})");
  EXPECT_FALSE(out[2].contains("tool_calls"));
  EXPECT_EQ(out[3]["role"], "user");
  EXPECT_NE(out[3]["content"].get<std::string>().find("18 C"), std::string::npos);

  Json native = messages_for_template(messages, weather(), /*takes_tools=*/true);
  ASSERT_EQ(native.size(), 3u);  // the template writes the tools itself
  EXPECT_EQ(native[1]["tool_calls"][0]["function"]["arguments"]["city"], "Paris");  // an object for tojson
  EXPECT_EQ(native[2]["role"], "tool");
}

TEST(ToolCalls, ParsesEachFormat) {
  const ToolRequest t = weather();
  ToolOutput h = parse_tool_output("Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
                                   ToolCallFormat::kHermes, t);
  ASSERT_EQ(h.calls.size(), 1u);
  EXPECT_EQ(h.content, "Let me look.");
  EXPECT_EQ(h.calls[0].name, "get_weather");
  EXPECT_EQ(Json::parse(h.calls[0].arguments)["city"], "Oslo");
  EXPECT_EQ(h.calls[0].id.rfind("call_", 0), 0u);

  ToolOutput l = parse_tool_output("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}",
                                   ToolCallFormat::kLlama3, t);
  ASSERT_EQ(l.calls.size(), 1u);
  EXPECT_EQ(Json::parse(l.calls[0].arguments)["city"], "Rome");

  ToolOutput m = parse_tool_output("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"A\"}}, "
                                   "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"B\"}}]",
                                   ToolCallFormat::kMistral, t);
  ASSERT_EQ(m.calls.size(), 2u);
  EXPECT_EQ(Json::parse(m.calls[1].arguments)["city"], "B");

  ToolOutput g = parse_tool_output("```json\n{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Kyoto\"}}]}\n```",
                                   ToolCallFormat::kGeneric, t);
  ASSERT_EQ(g.calls.size(), 1u);
  EXPECT_EQ(g.content, "");
}

TEST(ToolCalls, WhatIsNotACallStaysText) {
  const ToolRequest t = weather();
  EXPECT_TRUE(parse_tool_output("It is sunny.", ToolCallFormat::kGeneric, t).calls.empty());
  // An unknown function, or JSON that is not a call, is text.
  ToolOutput u = parse_tool_output("{\"name\": \"launch\", \"arguments\": {}}", ToolCallFormat::kGeneric, t);
  EXPECT_TRUE(u.calls.empty());
  EXPECT_EQ(u.content, "{\"name\": \"launch\", \"arguments\": {}}");
  ToolOutput broken = parse_tool_output("<tool_call>{\"name\": \"get_weather\", \"argu", ToolCallFormat::kHermes, t);
  EXPECT_TRUE(broken.calls.empty());
  EXPECT_EQ(broken.content, "<tool_call>{\"name\": \"get_weather\", \"argu");
  // parallel_tool_calls false keeps the first call.
  ToolRequest single = tools_of({{"tools", {weather_tool()}}, {"parallel_tool_calls", false}});
  EXPECT_EQ(parse_tool_output("[{\"name\": \"get_weather\", \"arguments\": {}}, {\"name\": \"get_weather\", \"arguments\": {}}]",
                              ToolCallFormat::kGeneric, single).calls.size(), 1u);
}

TEST(ToolCallStream, TextStreamsAndCallsAreHeld) {
  const ToolRequest t = weather();
  ToolCallStream s(ToolCallFormat::kHermes);
  std::string sent;
  for (const char* piece : {"Checking", " now.", " <tool", "_call>", "{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Lima\"}}", "</tool_call>"})
    sent += s.push(piece);
  EXPECT_EQ(sent, "Checking now. ");
  ToolOutput end = s.finish(t);
  ASSERT_EQ(end.calls.size(), 1u);
  EXPECT_EQ(end.content, "");

  ToolCallStream plain(ToolCallFormat::kGeneric);
  EXPECT_EQ(plain.push("  "), "");  // not known yet whether a JSON call begins
  EXPECT_EQ(plain.push("Hello"), "  Hello");
  EXPECT_EQ(plain.push(" {x}"), " {x}");  // past the start, JSON is text
  EXPECT_TRUE(plain.finish(t).calls.empty());

  ToolCallStream json(ToolCallFormat::kGeneric);
  EXPECT_EQ(json.push("{\"tool_calls\": [{\"name\": \"get_weather\", "), "");
  EXPECT_EQ(json.push("\"arguments\": {\"city\": \"Quito\"}}]}"), "");
  ToolOutput j = json.finish(t);
  ASSERT_EQ(j.calls.size(), 1u);
  EXPECT_EQ(Json::parse(j.calls[0].arguments)["city"], "Quito");

  ToolCallStream not_a_call(ToolCallFormat::kGeneric);
  EXPECT_EQ(not_a_call.push("{not json"), "");
  ToolOutput n = not_a_call.finish(t);
  EXPECT_TRUE(n.calls.empty());
  EXPECT_EQ(n.content, "{not json");  // held text goes out at the end
}

TEST(GbnfCompose, RenamesARuleButNotLiteralsOrClasses) {
  EXPECT_EQ(gbnf_rename_rule("root ::= \"root\" [root] x # root\nx ::= root-a root\n", "root", "inner"),
            "inner ::= \"root\" [root] x # root\nx ::= root-a inner\n");
  EXPECT_EQ(gbnf_rename_rule("root ::= \"a\\\"root\" root", "root", "r"), "r ::= \"a\\\"root\" r");
}

}  // namespace
}  // namespace nagare
