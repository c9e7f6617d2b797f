#include "api/tool_calls.h"

#include <algorithm>
#include <set>

#include "api/api_error.h"
#include "api/response_id.h"
#include "api/structured_output.h"
#include "grammar/gbnf_compose.h"

namespace nagare {
namespace {

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralMarker = "[TOOL_CALLS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool valid_function_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

const Json* find_tool(const ToolRequest& tools, const std::string& name) {
  for (const Json& t : tools.tools)
    if (t["function"]["name"] == name) return &t;
  return nullptr;
}

std::string describe_tools(const ToolRequest& tools) {
  std::string s = "You can call these tools (functions):\n";
  for (const Json& t : tools.tools) {
    const Json& f = t["function"];
    s += "- " + f["name"].get<std::string>();
    if (f.contains("description")) s += ": " + f["description"].get<std::string>();
    s += "\n  parameters (JSON Schema): " + (f.contains("parameters") ? f["parameters"].dump() : "{}") + "\n";
  }
  s += "To call tools, answer with only a JSON object of this form and nothing else:\n"
       "{\"tool_calls\": [{\"name\": \"<tool name>\", \"arguments\": {<the arguments>}}]}\n";
  if (tools.choice == ToolRequest::Choice::kRequired) s += "You must call at least one tool.";
  else if (tools.choice == ToolRequest::Choice::kNamed) s += "You must call the tool '" + tools.named + "'.";
  else s += "If no tool is needed, answer normally in plain text.";
  if (!tools.parallel) s += " Call at most one tool.";
  return s;
}

// Arguments as the template should see them: an object when the JSON text parses.
Json arguments_value(const Json& call_function) {
  auto a = call_function.find("arguments");
  if (a == call_function.end() || a->is_null()) return Json::object();
  if (!a->is_string()) return *a;
  try {
    return Json::parse(a->get<std::string>());
  } catch (const Json::exception&) {
    return *a;
  }
}

// A function's parameters schema moved under a document whose root is not its own: its local
// references ("#", "#/$defs/X", "#/definitions/X") now point into `defs` under `prefix`.
Json rebase_schema(const Json& schema, const std::string& prefix, Json& defs) {
  std::function<Json(const Json&)> rewrite = [&](const Json& v) -> Json {
    if (v.is_array()) {
      Json out = Json::array();
      for (const Json& x : v) out.push_back(rewrite(x));
      return out;
    }
    if (!v.is_object()) return v;
    Json out = Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it.key() == "$ref" && it->is_string()) {
        const std::string ref = it->get<std::string>();
        if (ref == "#") out["$ref"] = "#/$defs/" + prefix + "root";
        else if (ref.rfind("#/$defs/", 0) == 0) out["$ref"] = "#/$defs/" + prefix + ref.substr(8);
        else if (ref.rfind("#/definitions/", 0) == 0) out["$ref"] = "#/$defs/" + prefix + ref.substr(14);
        else out["$ref"] = ref;  // refused by the schema compiler, naming it
      } else if ((it.key() == "$defs" || it.key() == "definitions") && it->is_object() && &v == &schema) {
        continue;  // hoisted below
      } else {
        out[it.key()] = rewrite(*it);
      }
    }
    return out;
  };
  for (const char* key : {"$defs", "definitions"})
    if (auto d = schema.find(key); d != schema.end() && d->is_object())
      for (auto it = d->begin(); it != d->end(); ++it) defs[prefix + it.key()] = rewrite(*it);
  Json body = rewrite(schema);
  defs[prefix + "root"] = body;
  return body;
}

// {"name": NAME, "arguments": {...}} (or "parameters") as a parsed call; nullopt when it is not
// one of the offered functions.
std::optional<ToolCall> call_from_json(const Json& j, const ToolRequest& tools) {
  if (!j.is_object()) return std::nullopt;
  const Json* fn = &j;
  if (auto f = j.find("function"); f != j.end() && f->is_object()) fn = &*f;  // OpenAI's own shape
  auto name = fn->find("name");
  if (name == fn->end() || !name->is_string() || !find_tool(tools, name->get<std::string>())) return std::nullopt;
  ToolCall call;
  call.id = make_response_id("call_");
  call.name = name->get<std::string>();
  auto args = fn->find("arguments");
  if (args == fn->end()) args = fn->find("parameters");
  if (args == fn->end() || args->is_null()) call.arguments = "{}";
  else if (args->is_string()) call.arguments = args->get<std::string>();
  else call.arguments = args->dump();
  return call;
}

std::optional<Json> parse_json(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

// A whole answer that is a JSON call, a list of them or {"tool_calls": [...]}, maybe in a
// Markdown code fence or after <|python_tag|>.
std::optional<std::vector<ToolCall>> json_calls(std::string_view text, const ToolRequest& tools) {
  text = trim(text);
  if (text.substr(0, kPythonTag.size()) == kPythonTag) text = trim(text.substr(kPythonTag.size()));
  if (text.substr(0, 3) == "```") {
    const size_t nl = text.find('\n');
    const size_t end = text.rfind("```");
    if (nl == std::string_view::npos || end <= nl) return std::nullopt;
    text = trim(text.substr(nl + 1, end - nl - 1));
  }
  auto j = parse_json(text);
  if (!j) return std::nullopt;
  const Json* list = &*j;
  if (j->is_object() && j->contains("tool_calls")) list = &(*j)["tool_calls"];
  std::vector<ToolCall> calls;
  if (list->is_array()) {
    for (const Json& c : *list) {
      auto call = call_from_json(c, tools);
      if (!call) return std::nullopt;
      calls.push_back(std::move(*call));
    }
  } else {
    auto call = call_from_json(*list, tools);
    if (!call) return std::nullopt;
    calls.push_back(std::move(*call));
  }
  if (calls.empty()) return std::nullopt;
  return calls;
}

ToolOutput parse_hermes(std::string_view text, const ToolRequest& tools) {
  ToolOutput out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find(kHermesOpen, pos);
    if (open == std::string_view::npos) {
      out.content += text.substr(pos);
      break;
    }
    out.content += text.substr(pos, open - pos);
    const size_t body = open + kHermesOpen.size();
    size_t close = text.find(kHermesClose, body);
    const size_t end = close == std::string_view::npos ? text.size() : close + kHermesClose.size();
    if (close == std::string_view::npos) close = text.size();
    auto j = parse_json(trim(text.substr(body, close - body)));
    auto call = j ? call_from_json(*j, tools) : std::nullopt;
    if (call) out.calls.push_back(std::move(*call));
    else out.content += text.substr(open, end - open);  // not a call after all: it stays text
    pos = end;
  }
  out.content = std::string(trim(out.content));
  return out;
}

}  // namespace

ToolRequest parse_tool_request(const Json& body) {
  ToolRequest t;
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) throw ApiError::invalid("'tools' must be a list, got " + json_type_name(*it), "tools");
    std::set<std::string> names;
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& tool = (*it)[i];
      const std::string p = "tools[" + std::to_string(i) + "]";
      if (!tool.is_object()) throw ApiError::invalid("'" + p + "' must be an object", p);
      auto type = get_string(tool, "type");
      if (type.value_or("function") != "function")
        throw ApiError::invalid("'" + p + ".type' must be 'function', got '" + *type + "'", p + ".type");
      const Json* fn = get_object(tool, "function");
      if (!fn) throw ApiError::invalid("'" + p + ".function' is required", p + ".function");
      auto name = get_string(*fn, "name");
      if (!name || !valid_function_name(*name))
        throw ApiError::invalid("'" + p + ".function.name' must be 1 to 64 letters, digits, '_' or '-'", p + ".function.name");
      if (!names.insert(*name).second)
        throw ApiError::invalid("two tools are named '" + *name + "'", p + ".function.name");
      Json f = {{"name", *name}};
      if (auto d = get_string(*fn, "description")) f["description"] = *d;
      if (const Json* params = get_object(*fn, "parameters")) f["parameters"] = *params;
      get_bool(*fn, "strict");  // checked for type; arguments are held to the schema when a call is required
      t.tools.push_back({{"type", "function"}, {"function", std::move(f)}});
    }
  }
  if (auto it = body.find("tool_choice"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      const std::string c = it->get<std::string>();
      if (c == "none") t.choice = ToolRequest::Choice::kNone;
      else if (c == "auto") t.choice = ToolRequest::Choice::kAuto;
      else if (c == "required") t.choice = ToolRequest::Choice::kRequired;
      else throw ApiError::invalid("'tool_choice' must be 'none', 'auto', 'required' or a function, got '" + c + "'", "tool_choice");
    } else if (it->is_object()) {
      const Json* fn = get_object(*it, "function");
      auto name = fn ? get_string(*fn, "name") : std::nullopt;
      if (!name) throw ApiError::invalid("'tool_choice.function.name' is required", "tool_choice.function.name");
      t.choice = ToolRequest::Choice::kNamed;
      t.named = *name;
    } else {
      throw ApiError::invalid("'tool_choice' must be a string or an object, got " + json_type_name(*it), "tool_choice");
    }
    if (t.tools.empty() && t.choice != ToolRequest::Choice::kNone && t.choice != ToolRequest::Choice::kAuto)
      throw ApiError::invalid("'tool_choice' requires 'tools'", "tool_choice");
    if (t.choice == ToolRequest::Choice::kNamed && !find_tool(t, t.named))
      throw ApiError::invalid("'tool_choice' names the function '" + t.named + "', which is not in 'tools'",
                              "tool_choice.function.name");
  }
  t.parallel = get_bool(body, "parallel_tool_calls").value_or(true);
  return t;
}

ToolCallFormat tool_call_format(std::string_view src) {
  if (src.find(kHermesOpen) != std::string_view::npos) return ToolCallFormat::kHermes;
  if (src.find(kMistralMarker) != std::string_view::npos) return ToolCallFormat::kMistral;
  if (src.find(kPythonTag) != std::string_view::npos ||
      (src.find("<|start_header_id|>") != std::string_view::npos && template_takes_tools(src)))
    return ToolCallFormat::kLlama3;
  return ToolCallFormat::kGeneric;
}

bool template_takes_tools(std::string_view src) {
  for (size_t pos = src.find("tools"); pos != std::string_view::npos; pos = src.find("tools", pos + 1)) {
    const auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    const bool starts = pos == 0 || !ident(src[pos - 1]);
    const bool ends = pos + 5 >= src.size() || !ident(src[pos + 5]);
    if (starts && ends) return true;
  }
  return false;
}

Json messages_for_template(const Json& messages, const ToolRequest& tools, bool takes_tools) {
  Json out = Json::array();
  for (const Json& m : messages) {
    Json msg = m;
    if (auto calls = m.find("tool_calls"); calls != m.end()) {
      Json list = Json::array();
      for (const Json& c : *calls) {
        Json call = c;
        call["function"]["arguments"] = arguments_value(c["function"]);
        list.push_back(std::move(call));
      }
      if (takes_tools) {
        msg["tool_calls"] = std::move(list);
      } else {
        // The generic format, as the model is told to write it.
        Json generic = Json::array();
        for (const Json& c : list) generic.push_back({{"name", c["function"]["name"]}, {"arguments", c["function"]["arguments"]}});
        const std::string text = Json({{"tool_calls", generic}}).dump();
        const std::string content = msg["content"].is_string() ? msg["content"].get<std::string>() : "";
        msg.erase("tool_calls");
        msg["content"] = content.empty() ? text : content + "\n" + text;
      }
    }
    if (!takes_tools && msg["role"] == "tool") {
      std::string head = "Result of the tool call";
      if (auto id = msg.find("tool_call_id"); id != msg.end() && id->is_string()) head += " " + id->get<std::string>();
      msg = {{"role", "user"}, {"content", head + ":\n" + msg["content"].get<std::string>()}};
    }
    if (msg["content"].is_null() && !takes_tools) msg["content"] = "";
    out.push_back(std::move(msg));
  }
  if (!takes_tools && tools.active()) {
    const std::string text = describe_tools(tools);
    if (!out.empty() && out[0]["role"] == "system")
      out[0]["content"] = out[0]["content"].get<std::string>() + "\n\n" + text;
    else
      out.insert(out.begin(), Json{{"role", "system"}, {"content", text}});
  }
  return out;
}

std::shared_ptr<const Grammar> tool_call_grammar(const ToolRequest& tools, ToolCallFormat format) {
  if (tools.choice != ToolRequest::Choice::kRequired && tools.choice != ToolRequest::Choice::kNamed) return nullptr;
  const char* args_key = format == ToolCallFormat::kLlama3 ? "parameters" : "arguments";
  Json defs = Json::object();
  Json calls = Json::array();
  for (size_t i = 0; i < tools.tools.size(); ++i) {
    const Json& f = tools.tools[i]["function"];
    if (tools.choice == ToolRequest::Choice::kNamed && f["name"] != tools.named) continue;
    Json params = f.contains("parameters") ? f["parameters"] : Json{{"type", "object"}};
    schema_grammar(params, "tools[" + std::to_string(i) + "].function.parameters");  // its own errors, named
    Json args = rebase_schema(params, "f" + std::to_string(i) + "-", defs);
    calls.push_back({{"type", "object"},
                     {"properties", {{"name", {{"const", f["name"]}}}, {args_key, std::move(args)}}},
                     {"required", {"name", args_key}},
                     {"additionalProperties", false}});
  }
  Json call = calls.size() == 1 ? calls[0] : Json{{"anyOf", calls}};
  Json list = {{"type", "array"}, {"items", call}, {"minItems", 1}};
  if (!tools.parallel) list["maxItems"] = 1;
  Json schema;
  switch (format) {
    case ToolCallFormat::kGeneric:
      schema = {{"type", "object"}, {"properties", {{"tool_calls", list}}}, {"required", {"tool_calls"}},
                {"additionalProperties", false}};
      break;
    case ToolCallFormat::kLlama3:
    case ToolCallFormat::kHermes:
      schema = call;
      break;
    case ToolCallFormat::kMistral:  // its [TOOL_CALLS] marker is a control token: the list alone
      schema = list;
      break;
  }
  if (!defs.empty()) schema["$defs"] = defs;
  auto grammar = schema_grammar(schema, "tools");
  if (format != ToolCallFormat::kHermes) return grammar;
  // <tool_call>\n{call}\n</tool_call>, and more of them when parallel calls are allowed.
  std::string gbnf = gbnf_rename_rule(grammar->to_gbnf(), "root", "tool-call-json");
  gbnf += "\nroot ::= tool-call-tagged";
  if (tools.parallel) gbnf += " (\"\\n\" tool-call-tagged)*";
  gbnf += "\ntool-call-tagged ::= \"<tool_call>\\n\" tool-call-json \"\\n</tool_call>\"\n";
  try {
    return Grammar::from_gbnf(gbnf);
  } catch (const GrammarError& e) {
    throw ApiError::invalid(std::string("the tools' parameters make too large a grammar: ") + e.what(), "tools");
  }
}

ToolOutput parse_tool_output(std::string_view text, ToolCallFormat format, const ToolRequest& tools) {
  ToolOutput out;
  if (format == ToolCallFormat::kHermes && text.find(kHermesOpen) != std::string_view::npos) {
    out = parse_hermes(text, tools);
  } else {
    std::string_view calls_text = text;
    std::string_view before;
    if (format == ToolCallFormat::kMistral) {
      if (const size_t m = text.find(kMistralMarker); m != std::string_view::npos) {
        before = text.substr(0, m);
        calls_text = text.substr(m + kMistralMarker.size());
      }
    }
    if (auto calls = json_calls(calls_text, tools)) {
      out.content = std::string(trim(before));
      out.calls = std::move(*calls);
    } else {
      out.content = std::string(text);
    }
  }
  if (!tools.parallel && out.calls.size() > 1) out.calls.resize(1);
  return out;
}

std::string ToolCallStream::push(std::string_view text) {
  held_ += text;
  if (in_call_) return "";
  if (!seen_text_) {
    // A JSON call (every format may write one bare) or a tag opens the answer: hold on while
    // only whitespace came, and from a '{', '[', code fence or call tag on.
    std::string_view t = held_;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\n' || t.front() == '\t' || t.front() == '\r')) t.remove_prefix(1);
    if (t.empty()) return "";
    if (t.front() == '{' || t.front() == '[' || t.front() == '`' || t.starts_with(kHermesOpen) ||
        t.starts_with(kPythonTag)) {
      in_call_ = true;
      return "";
    }
    if (kHermesOpen.starts_with(t) || kPythonTag.starts_with(t)) return "";  // a tag may be coming
    seen_text_ = true;
  }
  // Past the start, only a marker begins a call.
  std::string_view marker = format_ == ToolCallFormat::kHermes    ? kHermesOpen
                            : format_ == ToolCallFormat::kMistral ? kMistralMarker
                                                                  : std::string_view();
  if (marker.empty()) {
    std::string out = std::move(held_);
    held_.clear();
    return out;
  }
  if (const size_t m = held_.find(marker); m != std::string::npos) {
    std::string out = held_.substr(0, m);
    held_.erase(0, m);
    in_call_ = true;
    return out;
  }
  // Hold back a tail that may be the marker's beginning.
  size_t keep = std::min(held_.size(), marker.size() - 1);
  while (keep > 0 && held_.compare(held_.size() - keep, keep, marker, 0, keep) != 0) --keep;
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

ToolOutput ToolCallStream::finish(const ToolRequest& tools) {
  ToolOutput out;
  if (in_call_) out = parse_tool_output(held_, format_, tools);
  else out.content = held_;
  held_.clear();
  return out;
}

}  // namespace nagare
