// PromptBuilder: an OpenAI request's messages or prompts -> prompt token ids for the engine (chat
// through the model's ChatPrompt). The engine checks them (vocabulary, context size) when they
// are submitted; its RequestError becomes an ApiError there (CompletionJob::submit).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/openai_request.h"
#include "engine/chat_prompt.h"
#include "tokenizer/tokenizer.h"

namespace nagare {

class PromptBuilder {
 public:
  // `chat` and `tokenizer` must outlive the builder. `default_system` (a store manifest's
  // SYSTEM) goes first in chats that bring no system message.
  PromptBuilder(const ChatPrompt& chat, const Tokenizer& tokenizer,
                std::optional<std::string> default_system = std::nullopt);

  // One token list per prompt (chat: exactly one). Chat: rendered with the template (generation
  // prompt added) and tokenized by ChatPrompt. Completions: text as llama.cpp's server does it
  // (special-token texts become their ids, BOS when the vocabulary asks), token ids as given.
  // Throws ApiError (400, param "messages") when the template rejects the conversation.
  std::vector<std::vector<int32_t>> prompt_tokens(const OpenAiRequest& request) const;

  // The chat prompt as text (for diagnostics and tests); throws ApiError like prompt_tokens.
  std::string render_chat(const Json& messages) const;

 private:
  std::vector<ChatMessage> chat_messages(const Json& messages) const;

  const ChatPrompt& chat_;
  const Tokenizer& tokenizer_;
  std::optional<std::string> default_system_;
};

}  // namespace nagare
