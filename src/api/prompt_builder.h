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

// What a store manifest puts around every chat: a default system prompt (SYSTEM) for chats
// that bring none, and example messages (MESSAGE) before the conversation, after its leading
// system messages, as Ollama places them.
struct ConversationPreset {
  std::optional<std::string> system;
  std::vector<ChatMessage> messages;
  void apply(std::vector<ChatMessage>& conversation) const;
  Json apply(const Json& conversation) const;  // the same on JSON messages
};

class PromptBuilder {
 public:
  // `chat` and `tokenizer` must outlive the builder; `preset` applies to every chat.
  PromptBuilder(const ChatPrompt& chat, const Tokenizer& tokenizer, ConversationPreset preset = {});

  // One token list per prompt (chat: exactly one). Chat: rendered with the template (generation
  // prompt added) and tokenized by ChatPrompt. Completions: text as llama.cpp's server does it
  // (special-token texts become their ids, BOS when the vocabulary asks), token ids as given.
  // Throws ApiError (400, param "messages") when the template rejects the conversation.
  std::vector<std::vector<int32_t>> prompt_tokens(const OpenAiRequest& request) const;

  // The chat prompt as text (for diagnostics and tests); throws ApiError like prompt_tokens.
  std::string render_chat(const OpenAiRequest& request) const;
  std::string render_chat(const Json& messages) const;  // a chat of these messages, no tools

 private:
  // The messages as the template gets them (preset applied; tools in the system message when
  // the template takes none) and its extra variables (tools when it takes them).
  Json chat_messages(const OpenAiRequest& request) const;
  ChatRenderOptions render_options(const OpenAiRequest& request) const;

  const ChatPrompt& chat_;
  const Tokenizer& tokenizer_;
  ConversationPreset preset_;
};

}  // namespace nagare
