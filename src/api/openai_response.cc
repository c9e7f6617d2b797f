#include "api/openai_response.h"

#include <cmath>

#include "api/api_error.h"

namespace nagare {
namespace {

// JSON has no -inf; OpenAI reports impossible tokens as -9999.
double wire_logprob(float lp) { return std::isfinite(lp) ? double(lp) : -9999.0; }

Json bytes_json(std::string_view s) {
  Json b = Json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

}  // namespace

const char* openai_finish_reason(FinishReason finish) {
  if (finish == FinishReason::kTimeout) return "timeout";  // not one of OpenAI's: the server's deadline
  return finish == FinishReason::kLength ? "length" : "stop";
}

OpenAiFormatter::OpenAiFormatter(Endpoint endpoint, std::string model, const Tokenizer& tokenizer,
                                 bool usage_in_stream, int64_t created)
    : endpoint_(endpoint), model_(std::move(model)), tokenizer_(tokenizer),
      usage_in_stream_(usage_in_stream), created_(created),
      id_(make_response_id(endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-")) {}

const char* OpenAiFormatter::chunk_object() const {
  return endpoint_ == Endpoint::kChat ? "chat.completion.chunk" : "text_completion";
}

Json OpenAiFormatter::chunk_base() const {
  Json j;
  j["id"] = id_;
  j["object"] = chunk_object();
  j["created"] = created_;
  j["model"] = model_;
  j["choices"] = Json::array();
  if (usage_in_stream_) j["usage"] = nullptr;
  return j;
}

Json OpenAiFormatter::role_chunk(int32_t index) const {
  Json j = chunk_base();
  Json c;
  c["index"] = index;
  c["delta"] = {{"role", "assistant"}, {"content", ""}};
  c["logprobs"] = nullptr;
  c["finish_reason"] = nullptr;
  j["choices"].push_back(std::move(c));
  return j;
}

Json OpenAiFormatter::delta_chunk(int32_t index, std::string_view text,
                                  std::span<const TokenEvent> tokens, bool with_logprobs,
                                  int64_t text_offset) const {
  Json j = chunk_base();
  Json c;
  c["index"] = index;
  if (endpoint_ == Endpoint::kChat) c["delta"] = {{"content", text}};
  else c["text"] = text;
  c["logprobs"] = with_logprobs ? logprobs_json(tokens, text_offset) : Json(nullptr);
  c["finish_reason"] = nullptr;
  j["choices"].push_back(std::move(c));
  return j;
}

Json OpenAiFormatter::finish_chunk(int32_t index, FinishReason finish, bool tool_calls) const {
  Json j = chunk_base();
  Json c;
  c["index"] = index;
  if (endpoint_ == Endpoint::kChat) c["delta"] = Json::object();
  else c["text"] = "";
  c["logprobs"] = nullptr;
  c["finish_reason"] = tool_calls ? "tool_calls" : openai_finish_reason(finish);
  j["choices"].push_back(std::move(c));
  return j;
}

std::vector<Json> OpenAiFormatter::tool_call_chunks(int32_t index, const std::vector<ToolCall>& calls) const {
  std::vector<Json> out;
  for (size_t i = 0; i < calls.size(); ++i) {
    for (int part = 0; part < 2; ++part) {
      Json call = {{"index", i}};
      if (part == 0) {
        call["id"] = calls[i].id;
        call["type"] = "function";
        call["function"] = {{"name", calls[i].name}, {"arguments", ""}};
      } else {
        call["function"] = {{"arguments", calls[i].arguments}};
      }
      Json j = chunk_base();
      Json c;
      c["index"] = index;
      c["delta"] = {{"tool_calls", Json::array({std::move(call)})}};
      c["logprobs"] = nullptr;
      c["finish_reason"] = nullptr;
      j["choices"].push_back(std::move(c));
      out.push_back(std::move(j));
    }
  }
  return out;
}

Json OpenAiFormatter::usage_chunk(const Usage& usage) const {
  Json j = chunk_base();
  j["usage"] = usage_json(usage);
  return j;
}

Json OpenAiFormatter::usage_json(const Usage& usage) {
  Json u;
  u["prompt_tokens"] = usage.prompt_tokens;
  u["completion_tokens"] = usage.completion_tokens;
  u["total_tokens"] = usage.prompt_tokens + usage.completion_tokens;
  u["prompt_tokens_details"] = {{"cached_tokens", usage.cached_tokens}};
  u["completion_tokens_details"] = {{"accepted_prediction_tokens", usage.accepted_draft_tokens},
                                    {"rejected_prediction_tokens", usage.rejected_draft_tokens}};
  return u;
}

Json OpenAiFormatter::logprobs_json(std::span<const TokenEvent> tokens, int64_t text_offset) const {
  if (endpoint_ == Endpoint::kChat) {
    Json content = Json::array();
    for (const TokenEvent& t : tokens) {
      if (t.token < 0) continue;  // held-back text flushed at the end, not a token
      const std::string_view piece = tokenizer_.piece_view(t.token, /*special=*/true);
      Json e;
      e["token"] = piece;
      e["logprob"] = wire_logprob(t.logprob);
      e["bytes"] = bytes_json(piece);
      Json top = Json::array();
      for (const TokenLogprob& alt : t.top) {
        if (alt.token < 0) continue;
        const std::string_view p = tokenizer_.piece_view(alt.token, true);
        top.push_back({{"token", p}, {"logprob", wire_logprob(alt.logprob)}, {"bytes", bytes_json(p)}});
      }
      e["top_logprobs"] = std::move(top);
      content.push_back(std::move(e));
    }
    return {{"content", std::move(content)}};
  }
  Json toks = Json::array(), lps = Json::array(), tops = Json::array(), offsets = Json::array();
  for (const TokenEvent& t : tokens) {
    if (t.token < 0) continue;
    const std::string_view piece = tokenizer_.piece_view(t.token, true);
    toks.push_back(piece);
    lps.push_back(wire_logprob(t.logprob));
    Json top = Json::object();
    for (const TokenLogprob& alt : t.top)
      if (alt.token >= 0) top[std::string(tokenizer_.piece_view(alt.token, true))] = wire_logprob(alt.logprob);
    tops.push_back(std::move(top));
    offsets.push_back(text_offset);
    text_offset += int64_t(piece.size());
  }
  Json j;
  j["tokens"] = std::move(toks);
  j["token_logprobs"] = std::move(lps);
  j["top_logprobs"] = std::move(tops);
  j["text_offset"] = std::move(offsets);
  return j;
}

Json OpenAiFormatter::body(const std::vector<ChoiceResult>& choices, const Usage& usage,
                           bool with_logprobs) const {
  Json j;
  j["id"] = id_;
  j["object"] = endpoint_ == Endpoint::kChat ? "chat.completion" : "text_completion";
  j["created"] = created_;
  j["model"] = model_;
  j["choices"] = Json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& r = choices[i];
    Json c;
    c["index"] = i;
    if (endpoint_ == Endpoint::kChat) {
      c["message"] = {{"role", "assistant"}, {"content", r.text}};
      if (!r.tool_calls.empty()) {
        if (r.text.empty()) c["message"]["content"] = nullptr;  // as OpenAI answers a pure call
        Json calls = Json::array();
        for (const ToolCall& t : r.tool_calls)
          calls.push_back({{"id", t.id}, {"type", "function"}, {"function", {{"name", t.name}, {"arguments", t.arguments}}}});
        c["message"]["tool_calls"] = std::move(calls);
      }
    } else {
      c["text"] = r.text;
    }
    c["logprobs"] = with_logprobs ? logprobs_json(r.tokens, 0) : Json(nullptr);
    c["finish_reason"] = r.tool_calls.empty() ? openai_finish_reason(r.finish) : "tool_calls";
    j["choices"].push_back(std::move(c));
  }
  j["usage"] = usage_json(usage);
  return j;
}

std::string OpenAiFormatter::sse(const Json& chunk) { return "data: " + to_wire(chunk) + "\n\n"; }

Json model_json(const std::string& name, int64_t created) {
  Json m;
  m["id"] = name;
  m["object"] = "model";
  m["created"] = created;
  m["owned_by"] = "nagare";
  return m;
}

Json model_list_json(const std::vector<std::string>& names, int64_t created) {
  Json data = Json::array();
  for (const auto& n : names) data.push_back(model_json(n, created));
  return {{"object", "list"}, {"data", std::move(data)}};
}

}  // namespace nagare
