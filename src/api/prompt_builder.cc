#include "api/prompt_builder.h"

#include "api/api_error.h"

namespace nagare {

PromptBuilder::PromptBuilder(const ChatPrompt& chat, const Tokenizer& tokenizer, std::optional<std::string> default_system)
    : chat_(chat), tokenizer_(tokenizer), default_system_(std::move(default_system)) {}

std::vector<ChatMessage> PromptBuilder::chat_messages(const Json& messages) const {
  std::vector<ChatMessage> out;
  bool has_system = false;
  for (const Json& m : messages) {
    out.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
    has_system = has_system || out.back().role == "system";
  }
  if (default_system_ && !default_system_->empty() && !has_system) out.insert(out.begin(), {"system", *default_system_});
  return out;
}

namespace {

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

std::vector<std::vector<int32_t>> PromptBuilder::prompt_tokens(const OpenAiRequest& request) const {
  std::vector<std::vector<int32_t>> out;
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
      out.push_back(p.tokens);
    }
  }
  return out;
}

}  // namespace nagare
