#include "api/openai_request.h"

#include "api/api_error.h"
#include "api/structured_output.h"

namespace nagare {
namespace {

std::string at(const std::string& base, size_t i) { return base + "[" + std::to_string(i) + "]"; }

// Chat content: a string, or a list of {"type": "text", "text": ...} parts joined by newlines.
std::string parse_content(const Json& msg, const std::string& param, bool may_be_null) {
  auto it = msg.find("content");
  if (it == msg.end() || it->is_null()) {
    if (may_be_null) return "";
    throw ApiError::invalid("'" + param + "' is required", param);
  }
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array())
    throw ApiError::invalid("'" + param + "' must be a string or a list of content parts, got " +
                                json_type_name(*it),
                            param);
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& part = (*it)[i];
    const std::string p = at(param, i);
    if (!part.is_object()) throw ApiError::invalid("'" + p + "' must be an object", p);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string())
      throw ApiError::invalid("'" + p + ".type' must be a string", p + ".type");
    if (*type != "text")
      throw ApiError::invalid("content part type '" + type->get<std::string>() +
                                  "' is not supported (only 'text')",
                              p + ".type");
    auto t = part.find("text");
    if (t == part.end() || !t->is_string())
      throw ApiError::invalid("'" + p + ".text' must be a string", p + ".text");
    if (i) text += "\n";
    text += t->get<std::string>();
  }
  return text;
}

// An assistant message's earlier calls: [{"id", "type": "function", "function": {"name", "arguments"}}].
Json parse_tool_calls(const Json& msg, const std::string& param) {
  Json out = Json::array();
  auto it = msg.find("tool_calls");
  if (it == msg.end() || it->is_null()) return out;
  if (!it->is_array()) throw ApiError::invalid("'" + param + "' must be a list", param);
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& c = (*it)[i];
    const std::string p = at(param, i);
    if (!c.is_object()) throw ApiError::invalid("'" + p + "' must be an object", p);
    const Json* fn = get_object(c, "function");
    auto name = fn ? get_string(*fn, "name") : std::nullopt;
    if (!name) throw ApiError::invalid("'" + p + ".function.name' is required", p + ".function.name");
    Json call = {{"id", get_string(c, "id").value_or("call_" + std::to_string(i))},
                 {"type", "function"},
                 {"function", {{"name", *name}, {"arguments", "{}"}}}};
    if (auto a = fn->find("arguments"); a != fn->end() && !a->is_null())
      call["function"]["arguments"] = a->is_string() ? a->get<std::string>() : a->dump();
    out.push_back(std::move(call));
  }
  return out;
}

Json parse_messages(const Json& body) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) throw ApiError::invalid("'messages' is required", "messages");
  if (!it->is_array())
    throw ApiError::invalid("'messages' must be a list, got " + json_type_name(*it), "messages");
  if (it->empty()) throw ApiError::invalid("'messages' must not be empty", "messages");
  Json out = Json::array();
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& m = (*it)[i];
    const std::string p = at("messages", i);
    if (!m.is_object()) throw ApiError::invalid("'" + p + "' must be an object", p);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      throw ApiError::invalid("'" + p + ".role' must be a string", p + ".role");
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";  // OpenAI's newer name for the system role
    if (r != "system" && r != "user" && r != "assistant" && r != "tool")
      throw ApiError::invalid("'" + p + ".role' must be 'system', 'developer', 'user', 'assistant' or 'tool', got '" +
                                  role->get<std::string>() + "'",
                              p + ".role");
    Json msg = {{"role", r}, {"content", parse_content(m, p + ".content", r == "assistant")}};
    if (r == "assistant") {
      if (Json calls = parse_tool_calls(m, p + ".tool_calls"); !calls.empty()) msg["tool_calls"] = std::move(calls);
    } else if (r == "tool") {
      auto id = get_string(m, "tool_call_id");
      if (!id) throw ApiError::invalid("'" + p + ".tool_call_id' is required", p + ".tool_call_id");
      msg["tool_call_id"] = *id;
      if (auto name = get_string(m, "name")) msg["name"] = *name;
    }
    out.push_back(std::move(msg));
  }
  return out;
}

std::vector<int32_t> parse_token_list(const Json& list, const std::string& param) {
  std::vector<int32_t> out;
  for (const Json& t : list) {
    if (!t.is_number_integer() && !t.is_number_unsigned())
      throw ApiError::invalid("'" + param + "' token ids must be integers", param);
    const int64_t id = t.is_number_unsigned() ? int64_t(std::min<uint64_t>(t.get<uint64_t>(), INT64_MAX))
                                              : t.get<int64_t>();
    if (id < 0 || id > INT32_MAX)
      throw ApiError::invalid("'" + param + "' holds an invalid token id " + std::to_string(id), param);
    out.push_back(static_cast<int32_t>(id));
  }
  if (out.empty()) throw ApiError::invalid("'" + param + "' must not be empty", param);
  return out;
}

// A string, a list of strings, a list of token ids, or a list of lists of token ids.
std::vector<PromptInput> parse_prompts(const Json& body) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) throw ApiError::invalid("'prompt' is required", "prompt");
  std::vector<PromptInput> out;
  if (it->is_string()) {
    out.push_back({it->get<std::string>(), {}, false});
    return out;
  }
  const char* kShape = "'prompt' must be a string, a list of strings, a list of token ids or a list of lists of token ids";
  if (!it->is_array()) throw ApiError::invalid(std::string(kShape) + ", got " + json_type_name(*it), "prompt");
  if (it->empty()) throw ApiError::invalid("'prompt' must not be empty", "prompt");
  const Json& first = it->front();
  if (first.is_number()) {
    out.push_back({"", parse_token_list(*it, "prompt"), true});
    return out;
  }
  for (const Json& item : *it) {
    if (first.is_string() && item.is_string()) out.push_back({item.get<std::string>(), {}, false});
    else if (first.is_array() && item.is_array()) out.push_back({"", parse_token_list(item, "prompt"), true});
    else throw ApiError::invalid(kShape, "prompt");
  }
  return out;
}

void reject_unsupported(const Json& body) {
  if (auto echo = get_bool(body, "echo"); echo && *echo)
    throw ApiError::invalid("'echo' is not supported", "echo");
  if (auto suffix = get_string(body, "suffix"); suffix && !suffix->empty())
    throw ApiError::invalid("'suffix' is not supported", "suffix");
  if (const Json* bias = get_object(body, "logit_bias"); bias && !bias->empty())
    throw ApiError::invalid("'logit_bias' is not supported", "logit_bias");
}

// Fields shared by both endpoints.
void parse_common(const Json& body, OpenAiRequest& r) {
  reject_unsupported(body);
  if (auto model = get_string(body, "model")) r.model = *model;
  get_string(body, "user");  // accepted for compatibility, checked for type, otherwise ignored
  r.n = static_cast<int32_t>(get_integer(body, "n", 1, kMaxChoices).value_or(1));
  if (auto best_of = get_integer(body, "best_of", 1, kMaxChoices); best_of && *best_of != r.n)
    throw ApiError::invalid("'best_of' other than n is not supported", "best_of");
  r.stream = get_bool(body, "stream").value_or(false);
  if (const Json* so = get_object(body, "stream_options")) {
    try {
      r.include_usage = get_bool(*so, "include_usage").value_or(false);
    } catch (const ApiError& e) {
      throw ApiError::invalid(std::string("'stream_options.") + (e.what() + 1), "stream_options.include_usage");
    }
  }

  SamplingParams& s = r.generate.sampling;
  s = openai_default_sampling();
  if (auto v = get_number(body, "temperature", 0.0, 2.0)) s.temperature = float(*v);
  if (auto v = get_number(body, "top_p", 0.0, 1.0)) {
    // 0, or a value so small that it rounds to 0 as the engine's float (which refuses 0).
    if (float(*v) == 0.0f)
      throw ApiError::invalid(std::string("'top_p' must be greater than 0, got ") +
                                  (*v == 0.0 ? "0" : "a value that rounds to 0"),
                              "top_p");
    s.top_p = float(*v);
  }
  if (auto v = get_integer(body, "top_k", -1, INT32_MAX)) s.top_k = *v < 0 ? 0 : int32_t(*v);  // -1: vLLM's "off"
  if (auto v = get_number(body, "min_p", 0.0, 1.0)) s.min_p = float(*v);
  if (auto v = get_number(body, "frequency_penalty", -2.0, 2.0)) s.frequency_penalty = float(*v);
  if (auto v = get_number(body, "presence_penalty", -2.0, 2.0)) s.presence_penalty = float(*v);
  if (auto v = get_number(body, "repetition_penalty", 0.0, 100.0)) {
    if (float(*v) == 0.0f)  // as top_p
      throw ApiError::invalid(std::string("'repetition_penalty' must be greater than 0, got ") +
                                  (*v == 0.0 ? "0" : "a value that rounds to 0"),
                              "repetition_penalty");
    s.repetition_penalty = float(*v);
  }
  if (auto v = get_integer(body, "repeat_last_n", -1, INT32_MAX)) s.repeat_last_n = int32_t(*v);
  if (auto v = get_integer(body, "seed", INT64_MIN, INT64_MAX)) {
    s.seed = static_cast<uint64_t>(*v);
    if (s.seed == kRandomSeed) s.seed = 0;  // -1 is a fixed seed here, not "random"
    r.seeded = true;
  }

  if (auto stops = get_string_or_list(body, "stop", kMaxStops)) {
    for (auto& st : *stops)
      if (!st.empty()) r.generate.stop.push_back(std::move(st));
  }
  r.generate.ignore_eos = get_bool(body, "ignore_eos").value_or(false);
  // Predicted Outputs: text the answer is expected to repeat (an edited file, a quoted passage).
  // It drafts speculative tokens; the output is what it would be without it.
  if (const Json* pred = get_object(body, "prediction")) {
    const auto type = get_string(*pred, "type");
    if (type != "content") throw ApiError::invalid("'prediction.type' must be 'content'", "prediction.type");
    r.prediction = parse_content(*pred, "prediction.content", false);
  }
  r.generate.grammar = openai_output_grammar(body);
  if (auto v = get_integer(body, "min_tokens", 0, INT32_MAX)) r.generate.min_tokens = int32_t(*v);
}

void check_min_max(const OpenAiRequest& r, const char* max_param) {
  if (r.generate.max_tokens >= 0 && r.generate.min_tokens > r.generate.max_tokens)
    throw ApiError::invalid("'min_tokens' (" + std::to_string(r.generate.min_tokens) +
                                ") must not exceed '" + max_param + "' (" +
                                std::to_string(r.generate.max_tokens) + ")",
                            "min_tokens");
}

}  // namespace

SamplingParams openai_default_sampling() {
  SamplingParams s;
  s.temperature = 1.0f;
  s.top_k = 0;
  s.top_p = 1.0f;
  s.min_p = 0.0f;
  s.repetition_penalty = 1.0f;
  s.frequency_penalty = 0.0f;
  s.presence_penalty = 0.0f;
  return s;
}

Json parse_json_body(std::string_view body) {
  // Deep nesting only costs memory and time: no OpenAI request needs more than a few levels.
  auto limit_depth = [](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxJsonDepth)
      throw ApiError::invalid("the request body nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  Json j;
  try {
    j = Json::parse(body.begin(), body.end(), limit_depth);
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw ApiError::invalid(std::string("malformed JSON in the request body: ") + e.what());
  }
  if (!j.is_object())
    throw ApiError::invalid("the request body must be a JSON object, got " + json_type_name(j));
  return j;
}

OpenAiRequest parse_chat_request(const Json& body) {
  OpenAiRequest r;
  r.endpoint = Endpoint::kChat;
  r.messages = parse_messages(body);
  r.tools = parse_tool_request(body);
  parse_common(body, r);
  const char* max_param = "max_tokens";
  if (auto v = get_integer(body, "max_completion_tokens", 1, INT32_MAX)) {
    r.generate.max_tokens = int32_t(*v);
    max_param = "max_completion_tokens";
  } else if (auto v2 = get_integer(body, "max_tokens", 1, INT32_MAX)) {
    r.generate.max_tokens = int32_t(*v2);
  }
  check_min_max(r, max_param);
  const bool logprobs = get_bool(body, "logprobs").value_or(false);
  auto top = get_integer(body, "top_logprobs", 0, 20);
  if (top && !logprobs)
    throw ApiError::invalid("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
  if (logprobs) r.logprobs = int32_t(top.value_or(0));
  return r;
}

OpenAiRequest parse_completion_request(const Json& body) {
  OpenAiRequest r;
  r.endpoint = Endpoint::kCompletion;
  r.prompts = parse_prompts(body);
  if (auto tools = body.find("tools"); tools != body.end() && !tools->is_null() &&
                                       !(tools->is_array() && tools->empty()))
    throw ApiError::invalid("'tools' needs /v1/chat/completions", "tools");
  parse_common(body, r);
  r.generate.max_tokens = int32_t(get_integer(body, "max_tokens", 1, INT32_MAX).value_or(kCompletionDefaultMaxTokens));
  check_min_max(r, "max_tokens");
  if (auto v = get_integer(body, "logprobs", 0, 5)) r.logprobs = int32_t(*v);
  if (int64_t(r.prompts.size()) * r.n > kMaxChoices)
    throw ApiError::invalid("n times the number of prompts must be at most " + std::to_string(kMaxChoices), "n");
  return r;
}

}  // namespace nagare
