#include "api/prompt_builder.h"

#include <algorithm>

#include "api/api_error.h"
#include "api/tool_calls.h"

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

Json ConversationPreset::apply(const Json& conversation) const {
  // As the ChatMessage version: the messages after the leading system messages, and the system
  // prompt first when no message (the preset's included) is a system message.
  const auto is_system = [](const Json& m) { return m["role"] == "system"; };
  bool has_system = std::any_of(conversation.begin(), conversation.end(), is_system);
  for (const ChatMessage& m : messages) has_system = has_system || m.role == "system";
  Json out = Json::array();
  if (system && !system->empty() && !has_system) out.push_back({{"role", "system"}, {"content", *system}});
  size_t lead = 0;
  while (lead < conversation.size() && is_system(conversation[lead])) out.push_back(conversation[lead++]);
  for (const ChatMessage& m : messages) out.push_back({{"role", m.role}, {"content", m.content}});
  for (size_t i = lead; i < conversation.size(); ++i) out.push_back(conversation[i]);
  return out;
}

Json PromptBuilder::chat_messages(const OpenAiRequest& request) const {
  const std::string& source = chat_.chat_template().source();
  return messages_for_template(preset_.apply(request.messages), request.tools, template_takes_tools(source));
}

ChatRenderOptions PromptBuilder::render_options(const OpenAiRequest& request) const {
  ChatRenderOptions options;
  if (request.tools.active() && template_takes_tools(chat_.chat_template().source()))
    options.extra["tools"] = request.tools.tools;
  return options;
}

namespace {

[[noreturn]] void template_failed(const Error& e) {
  throw ApiError::invalid(std::string("the chat template rejected the messages: ") + e.what(), "messages");
}

}  // namespace

std::string PromptBuilder::render_chat(const OpenAiRequest& request) const {
  try {
    return chat_.render_json(chat_messages(request), render_options(request));
  } catch (const Error& e) {
    template_failed(e);
  }
}

std::string PromptBuilder::render_chat(const Json& messages) const {
  OpenAiRequest request;
  request.messages = messages;
  return render_chat(request);
}

std::vector<std::vector<int32_t>> PromptBuilder::prompt_tokens(const OpenAiRequest& request) const {
  std::vector<std::vector<int32_t>> out;
  if (request.endpoint == Endpoint::kChat) {
    try {
      out.push_back(chat_.tokenize_json(chat_messages(request), render_options(request)));
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
