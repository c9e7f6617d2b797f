#include "engine/chat_prompt.h"

#include "util/error.h"

namespace nagare {
namespace {

std::string template_source(const GgufFile& file, bool& builtin) {
  std::string source = file.get_string("tokenizer.chat_template", "");
  builtin = source.empty();
  if (builtin) {
    std::string name = ChatTemplate::default_name_for_architecture(file.get_string("general.architecture", ""));
    auto b = ChatTemplate::builtin_source(name);
    if (!b) throw Error(file.path() + ": no chat template, and no built-in one named '" + name + "'");
    source = *b;
  }
  return source;
}

std::string special_text(const Tokenizer& t, int32_t id) { return id >= 0 ? t.token_to_piece(id, true) : ""; }

}  // namespace

ChatPrompt::ChatPrompt(const GgufFile& file, const Tokenizer& tokenizer,
                       const std::optional<std::string>& template_override)
    : tokenizer_(tokenizer),
      bos_text_(special_text(tokenizer, tokenizer.bos_id())),
      template_(template_override ? *template_override : template_source(file, builtin_), bos_text_,
                special_text(tokenizer, tokenizer.eos_id())) {}

std::string ChatPrompt::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  return template_.render(messages, add_generation_prompt);
}

std::string ChatPrompt::render_json(const nlohmann::ordered_json& messages, const ChatRenderOptions& options,
                                    bool add_generation_prompt) const {
  return template_.render_json(messages, add_generation_prompt, options);
}

std::vector<int32_t> ChatPrompt::tokenize_rendered(const std::string& text) const {
  const bool has_bos = !bos_text_.empty() && text.compare(0, bos_text_.size(), bos_text_) == 0;
  return tokenizer_.encode(text, !has_bos, true);
}

std::vector<int32_t> ChatPrompt::tokenize(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  return tokenize_rendered(render(messages, add_generation_prompt));
}

std::vector<int32_t> ChatPrompt::tokenize_json(const nlohmann::ordered_json& messages, const ChatRenderOptions& options,
                                               bool add_generation_prompt) const {
  return tokenize_rendered(render_json(messages, options, add_generation_prompt));
}


}  // namespace nagare
