// ChatTemplate: renders a GGUF `tokenizer.chat_template` (Jinja) the way HF transformers does
// (jinja2 sandbox, trim_blocks, lstrip_blocks), byte for byte, plus built-in templates.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_error.h"

namespace nagare {

struct ChatMessage {
  std::string role;
  std::string content;
};

struct ChatRenderOptions {
  // More template variables, as HF's apply_chat_template(**kwargs): tools, documents,
  // enable_thinking, date_string, ... They override the defaults (tools and documents are None).
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  // Local time seen by strftime_now(); the current local time when empty (tests fix it).
  std::optional<std::tm> now;
};

namespace jinja {
struct Stmt;
}

class ChatTemplate {
 public:
  // Parses once; throws ChatTemplateError with line/column on a syntax error (kind Syntax, or
  // Unsupported for valid jinja2 nagare does not implement).
  explicit ChatTemplate(std::string source, std::string bos_token = "", std::string eos_token = "");
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // Thread-safe (const); rendering needs well under 256 KiB of stack (about 2 MiB with sanitizers).
  // Renders with the variables HF passes: messages, add_generation_prompt, bos_token, eos_token,
  // tools=None, documents=None, and the globals raise_exception and strftime_now. Throws
  // ChatTemplateError (chat/chat_error.h) with the category jinja2 would raise: a template's
  // raise_exception("msg") gives kind Raised and a message containing "msg"; other runtime errors
  // (undefined attribute access, type errors, the size / step / depth limits) name the line and
  // the category, e.g. "chat template error at line 2, column 4: UndefinedError: 'x' is undefined".
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // Same with messages as JSON (a list of objects: content parts, tool_calls, ... all reach the
  // template) and extra variables.
  std::string render_json(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                          const ChatRenderOptions& options = {}) const;

  const std::string& source() const { return source_; }

  // Built-in templates for when a GGUF has none, by name: "chatml", "llama3" (Meta Llama 3
  // Instruct), "mistral" (Mistral 7B Instruct v0.1, [INST]), "gemma" (Gemma 3's official
  // template). Returns nullopt for unknown names.
  static std::optional<std::string> builtin_source(std::string_view name);
  // The built-in for a GGUF without a template, from general.architecture: any "gemma*"
  // architecture -> "gemma"; everything else -> "chatml", llama.cpp's fallback too (a "llama"
  // GGUF may be Llama 2 or 3, Mistral, SmolLM or another fine-tune, and most instruct
  // fine-tunes without their own template were trained on ChatML).
  static std::string default_name_for_architecture(std::string_view arch);

 private:
  std::string source_;
  std::string normalized_;  // newline-normalized source that error positions refer to
  std::string bos_token_;
  std::string eos_token_;
  std::unique_ptr<std::vector<std::unique_ptr<jinja::Stmt>>> body_;
};

}  // namespace nagare
