#include "api/prompt_builder.h"

#include "api/api_error.h"

namespace nagare {

void ConversationPreset::apply(std::vector<ChatMessage>& conversation) const {
  size_t lead = 0;
  while (lead < conversation.size() && conversation[lead].role == "system") ++lead;
  conversation.insert(conversation.begin() + std::ptrdiff_t(lead), messages.begin(), messages.end());
  if (!system || system->empty()) return;
  for (const ChatMessage& m : conversation)
    if (m.role == "system") return;
  conversation.insert(conversation.begin(), ChatMessage{"system", *system});
}

PromptBuilder::PromptBuilder(const ChatPrompt& chat, const Tokenizer& tokenizer, ConversationPreset preset)
    : chat_(chat), tokenizer_(tokenizer), preset_(std::move(preset)) {}

std::vector<ChatMessage> PromptBuilder::chat_messages(const Json& messages) const {
  std::vector<ChatMessage> out;
  for (const Json& m : messages) out.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
  preset_.apply(out);
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
