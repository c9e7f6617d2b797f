#include "api/prompt_builder.h"

#include <algorithm>

#include "api/api_error.h"

namespace nagare {

PromptBuilder::PromptBuilder(const ChatPrompt& chat, const Tokenizer& tokenizer, int32_t n_ctx)
    : chat_(chat), tokenizer_(tokenizer), n_ctx_(n_ctx) {}

namespace {

std::vector<ChatMessage> chat_messages(const Json& messages) {
  std::vector<ChatMessage> out;
  for (const Json& m : messages) out.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
  return out;
}

[[noreturn]] void template_failed(const Error& e) {
  throw ApiError::invalid(std::string("the chat template rejected the messages: ") + e.what(), "messages");
}

}  // namespace

std::string PromptBuilder::render_chat(const Json& messages) const {
  try {
    return chat_.render(chat_messages(messages));
  } catch (const Error& e) {
    template_failed(e);
  }
}

void PromptBuilder::check_fits(size_t prompt_len, const GenerateRequest& generate,
                               const std::string& param) const {
  const size_t ctx = static_cast<size_t>(n_ctx_);
  const std::string head = "This model's maximum context length is " + std::to_string(ctx) + " tokens. ";
  if (generate.max_tokens > 0 && prompt_len + size_t(generate.max_tokens) > ctx)
    throw ApiError::context_length(
        head + "However, you requested " + std::to_string(prompt_len + size_t(generate.max_tokens)) +
            " tokens (" + std::to_string(prompt_len) + " in the " + param + ", " +
            std::to_string(generate.max_tokens) +
            " for the completion). Please reduce the length of the " + param + " or the completion.",
        param);
  const size_t min_out = static_cast<size_t>(std::max(1, generate.min_tokens));
  if (prompt_len + min_out > ctx)
    throw ApiError::context_length(
        head + "However, your " + param + " resulted in " + std::to_string(prompt_len) +
            " tokens, which leaves no room for " + std::to_string(min_out) +
            " new token(s). Please reduce the length of the " + param + ".",
        param);
}

std::vector<std::vector<int32_t>> PromptBuilder::prompt_tokens(const OpenAiRequest& request) const {
  std::vector<std::vector<int32_t>> out;
  const std::string param = request.endpoint == Endpoint::kChat ? "messages" : "prompt";
  if (request.endpoint == Endpoint::kChat) {
    try {
      out.push_back(chat_.tokenize(chat_messages(request.messages)));
    } catch (const Error& e) {
      template_failed(e);
    }
  } else {
    for (const PromptInput& p : request.prompts) {
      if (!p.is_tokens) {
        out.push_back(tokenizer_.encode(p.text, /*add_special=*/true, /*parse_special=*/true));
        continue;
      }
      for (int32_t id : p.tokens)
        if (id < 0 || id >= tokenizer_.vocab_size())
          throw ApiError::invalid("'prompt' holds token id " + std::to_string(id) +
                                      ", outside the vocabulary (0.." +
                                      std::to_string(tokenizer_.vocab_size() - 1) + ")",
                                  "prompt");
      out.push_back(p.tokens);
    }
  }
  for (const auto& tokens : out) {
    if (tokens.empty()) throw ApiError::invalid("the " + param + " is empty after tokenization", param);
    check_fits(tokens.size(), request.generate, param);
  }
  return out;
}

}  // namespace nagare
