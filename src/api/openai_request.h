// OpenAI request bodies (/v1/chat/completions, /v1/completions) parsed and validated into an
// OpenAiRequest: the chat messages or prompts, how many choices, streaming options, and a
// GenerateRequest template (everything but the prompt tokens). No model or tokenizer needed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/json_fields.h"
#include "api/tool_calls.h"
#include "engine/request.h"

namespace nagare {

enum class Endpoint { kChat, kCompletion };

// One prompt of a completion request: text to tokenize, or token ids taken as they are.
struct PromptInput {
  std::string text;
  std::vector<int32_t> tokens;
  bool is_tokens = false;
};

struct OpenAiRequest {
  Endpoint endpoint = Endpoint::kChat;
  std::string model;                // "" when the client sent none
  // chat: [{"role", "content": string}, plus "tool_calls" (assistant), "tool_call_id" (tool)]
  Json messages = Json::array();
  ToolRequest tools;                // chat: tools, tool_choice, parallel_tool_calls
  std::vector<PromptInput> prompts; // completions: one per prompt (each gives n choices)
  int32_t n = 1;
  bool stream = false;
  bool include_usage = false;       // stream_options.include_usage
  // -1: no logprobs; else the alternatives per token (chat: top_logprobs when logprobs is true;
  // completions: the integer logprobs).
  int32_t logprobs = -1;
  // Sampling, limits and stops shared by every choice. The seed (when the client set one) is
  // choice 0's; choice i uses seed + i so n > 1 gives different choices reproducibly.
  GenerateRequest generate;
  bool seeded = false;
  std::string prediction;           // Predicted Outputs' content ("" when none)
};

// Parses a request body; throws ApiError (400) for malformed JSON, nesting deeper than
// kMaxJsonDepth, or a body that is not an object.
Json parse_json_body(std::string_view body);

// Both throw ApiError (400 invalid_request_error with param) for a missing field, a wrong type,
// an out-of-range value or an option nagare does not support. Unknown fields are ignored.
OpenAiRequest parse_chat_request(const Json& body);
OpenAiRequest parse_completion_request(const Json& body);

// Defaults for fields the client omits: OpenAI's semantics (temperature 1, top_p 1, no
// penalties); top_k and min_p, which OpenAI lacks, are off.
SamplingParams openai_default_sampling();
inline constexpr int32_t kCompletionDefaultMaxTokens = 16;  // OpenAI's /v1/completions default
inline constexpr int32_t kMaxChoices = 128;                 // n * prompts
inline constexpr size_t kMaxStops = 4;
inline constexpr int kMaxJsonDepth = 64;  // deeper request bodies are rejected

}  // namespace nagare
