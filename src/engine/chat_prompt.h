// A model's chat format: its GGUF chat template (or the built-in one for its architecture) and
// how rendered conversations become prompt tokens. Shared by `nagare run` and the server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace nagare {

class ChatPrompt {
 public:
  // template_override (e.g. a store manifest's TEMPLATE) replaces the file's chat template.
  ChatPrompt(const GgufFile& file, const Tokenizer& tokenizer,
             const std::optional<std::string>& template_override = std::nullopt);

  // Renders the conversation and tokenizes it (special tokens parsed; BOS added when the
  // vocabulary asks for it and the template did not already write it).
  std::vector<int32_t> tokenize(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true) const;
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt = true) const;
  // The same with messages as JSON (tool calls, tool results, ...) and more template variables
  // (tools, ...).
  std::vector<int32_t> tokenize_json(const nlohmann::ordered_json& messages, const ChatRenderOptions& options,
                                     bool add_generation_prompt = true) const;
  std::string render_json(const nlohmann::ordered_json& messages, const ChatRenderOptions& options,
                          bool add_generation_prompt = true) const;

  const ChatTemplate& chat_template() const { return template_; }
  bool builtin() const { return builtin_; }  // the file had no template

 private:
  std::vector<int32_t> tokenize_rendered(const std::string& text) const;

  const Tokenizer& tokenizer_;
  std::string bos_text_;
  bool builtin_ = false;
  ChatTemplate template_;
};

}  // namespace nagare
