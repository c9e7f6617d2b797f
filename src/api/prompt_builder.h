// PromptBuilder: an OpenAI request's messages or prompts -> prompt token ids for the engine (chat
// through the model's ChatPrompt), checked against the vocabulary and the context size, with
// every failure an ApiError the client can act on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/openai_request.h"
#include "engine/chat_prompt.h"
#include "tokenizer/tokenizer.h"

namespace nagare {

class PromptBuilder {
 public:
  // `chat` and `tokenizer` must outlive the builder.
  PromptBuilder(const ChatPrompt& chat, const Tokenizer& tokenizer, int32_t n_ctx);

  // One token list per prompt (chat: exactly one). Chat: rendered with the template (generation
  // prompt added) and tokenized by ChatPrompt. Completions: text as llama.cpp's server does it
  // (special-token texts become their ids, BOS when the vocabulary asks), token ids as given.
  // Throws ApiError (400): the template rejects the conversation (param "messages"), token ids
  // outside the vocabulary, an empty prompt, or (code context_length_exceeded) a prompt that does
  // not fit the context with the output asked for.
  std::vector<std::vector<int32_t>> prompt_tokens(const OpenAiRequest& request) const;

  // The chat prompt as text (for diagnostics and tests); throws ApiError like prompt_tokens.
  std::string render_chat(const Json& messages) const;

  // Throws ApiError context_length_exceeded unless prompt_len tokens leave room for
  // max(1, min_tokens) new ones and, when the client set max_tokens, for all of them (as
  // OpenAI does). `param` names the field ("messages" or "prompt").
  void check_fits(size_t prompt_len, const GenerateRequest& generate, const std::string& param) const;

  int32_t n_ctx() const { return n_ctx_; }

 private:
  const ChatPrompt& chat_;
  const Tokenizer& tokenizer_;
  int32_t n_ctx_;
};

}  // namespace nagare
