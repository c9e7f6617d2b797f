// ServedModel: one model as the API exposes it -- its public name, its engine, and how requests
// become prompts (with a store manifest's template and system prompt). One per loaded model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/prompt_builder.h"
#include "engine/chat_prompt.h"
#include "engine/engine.h"

namespace nagare {

class ServedModel {
 public:
  // What a store manifest changes on top of the GGUF file.
  struct Overrides {
    std::optional<std::string> template_text;  // replaces the file's chat template
    ConversationPreset preset;                 // SYSTEM and MESSAGEs around every chat
  };

  // Chat format from the engine's model file (its template, else the built-in for the
  // architecture) or the override; throws Error when the template does not parse. `engine`
  // must outlive this.
  ServedModel(std::string name, Engine& engine, int64_t created, Overrides overrides = {});
  ServedModel(const ServedModel&) = delete;
  ServedModel& operator=(const ServedModel&) = delete;

  // Throws ApiError model_not_found (404) unless `requested` is empty or this model's name
  // (":latest" optional, or any spelling of a store name).
  void check_model(const std::string& requested) const;
  // The manifest's SYSTEM and MESSAGEs, for chats built outside the PromptBuilder.
  const ConversationPreset& preset() const { return overrides_.preset; }

  const std::string& name() const { return name_; }
  // Names this model as served, for the response cache: name, weights file size and context
  // size (a replica with another context may refuse what this one accepted).
  std::string identity() const;
  Engine& engine() const { return engine_; }
  const ChatPrompt& chat() const { return chat_; }
  const PromptBuilder& prompts() const { return prompts_; }
  int64_t created() const { return created_; }  // unix time it was loaded (GET /v1/models)

 private:
  std::string name_;
  Engine& engine_;
  Overrides overrides_;
  ChatPrompt chat_;
  PromptBuilder prompts_;
  int64_t created_;
};

}  // namespace nagare
