// The text a request is routed by: what a worker's prefix cache would hold for it. Requests for
// the same model that start with the same messages (a shared system prompt, the earlier turns
// of a conversation) get keys that start alike, so the PrefixTree can send them where that
// prefix was computed before.
#pragma once

#include <string>
#include <string_view>

namespace nagare {

// Longest key kept: long enough to tell apart prompts that share several thousand tokens of
// system prompt, short enough that matching stays cheap.
inline constexpr size_t kMaxRoutingKey = 64 * 1024;

// From a request's JSON body: the model, then the messages (role and text, in order)
// or the prompt or input; "" for a body that is not JSON or holds none of these.
std::string routing_key(std::string_view body);

// The assistant's text in a chat answer as a worker sent it: an OpenAI SSE stream (the deltas),
// an Ollama NDJSON stream (the message parts), or one JSON object (either API); "" when none.
std::string answer_text(std::string_view content_type, std::string_view body);

// What the next turn of that conversation starts with: `key` followed by the answer as an
// assistant message, in routing_key's form.
std::string key_with_answer(std::string_view key, std::string_view answer);

}  // namespace nagare
