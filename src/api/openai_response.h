// The JSON OpenAI clients read back: chat.completion / text_completion bodies, their streaming
// chunks and SSE framing, logprobs in the chat and the legacy completions shapes, usage, model
// lists. Pure formatting: no engine state.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/openai_request.h"
#include "api/response_id.h"
#include "api/tool_calls.h"
#include "engine/request.h"
#include "tokenizer/tokenizer.h"

namespace nagare {

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  // of prompt_tokens, served from the prefix cache
  // Speculative drafts (from the context or the request's prediction) the output took or not:
  // OpenAI's accepted_prediction_tokens and rejected_prediction_tokens.
  int64_t accepted_draft_tokens = 0, rejected_draft_tokens = 0;
};

// One finished choice of a non-streaming response.
struct ChoiceResult {
  std::string text;
  FinishReason finish = FinishReason::kNone;
  std::vector<TokenEvent> tokens;  // kept only when logprobs were asked for
  std::vector<ToolCall> tool_calls;  // chat with tools: the calls parsed out of text (then finish "tool_calls")
};

class OpenAiFormatter {
 public:
  // `tokenizer` (for the token texts of logprobs) must outlive the formatter.
  OpenAiFormatter(Endpoint endpoint, std::string model, const Tokenizer& tokenizer,
                  bool usage_in_stream, int64_t created);

  const std::string& id() const { return id_; }
  const char* chunk_object() const;  // "chat.completion.chunk" / "text_completion"

  // Streaming chunks. `tokens` carries the logprobs of the tokens behind `text` (empty: logprobs
  // null); text_offset is the byte offset of the first of them in the choice's text (legacy
  // completions logprobs report it).
  Json role_chunk(int32_t index) const;  // chat: delta {"role": "assistant", "content": ""}
  Json delta_chunk(int32_t index, std::string_view text, std::span<const TokenEvent> tokens,
                   bool with_logprobs, int64_t text_offset) const;
  // Empty delta / text; finish_reason "tool_calls" when the answer made calls.
  Json finish_chunk(int32_t index, FinishReason finish, bool tool_calls = false) const;
  // Chat: each call as OpenAI streams it: {index, id, type, function {name, arguments: ""}},
  // then its arguments.
  std::vector<Json> tool_call_chunks(int32_t index, const std::vector<ToolCall>& calls) const;
  Json usage_chunk(const Usage& usage) const;                   // choices [] and usage

  // The whole non-streaming response.
  Json body(const std::vector<ChoiceResult>& choices, const Usage& usage, bool with_logprobs) const;

  // Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs"}...]}; completions:
  // {"tokens", "token_logprobs", "top_logprobs", "text_offset"}. Events without a token (text
  // flushed at the end) are skipped.
  Json logprobs_json(std::span<const TokenEvent> tokens, int64_t text_offset) const;

  static Json usage_json(const Usage& usage);
  // "data: <json>\n\n"
  static std::string sse(const Json& chunk);
  static constexpr std::string_view kSseDone = "data: [DONE]\n\n";

 private:
  Json chunk_base() const;

  Endpoint endpoint_;
  std::string model_;
  const Tokenizer& tokenizer_;
  bool usage_in_stream_;
  int64_t created_;
  std::string id_;
};

// A finish reason as the API reports it: "stop" or "length" (cancel and error never reach a
// successful response).
const char* openai_finish_reason(FinishReason finish);

// GET /v1/models and /v1/models/{id}.
Json model_json(const std::string& name, int64_t created);
Json model_list_json(const std::vector<std::string>& names, int64_t created);

}  // namespace nagare
