// ServedModel: one model as the API exposes it -- its public name, its engine, and how requests
// become prompts. The server holds one per loaded model (a registry of several plugs in later).
#pragma once

#include <cstdint>
#include <string>

#include "api/prompt_builder.h"
#include "engine/chat_prompt.h"
#include "engine/engine.h"

namespace nagare {

class ServedModel {
 public:
  // Chat format from the engine's model file (its template, else the built-in for the
  // architecture); throws Error when the template does not parse. `engine` must outlive this.
  ServedModel(std::string name, Engine& engine, int64_t created);
  ServedModel(const ServedModel&) = delete;
  ServedModel& operator=(const ServedModel&) = delete;

  // Throws ApiError model_not_found (404) unless `requested` is empty or this model's name.
  void check_model(const std::string& requested) const;

  const std::string& name() const { return name_; }
  Engine& engine() const { return engine_; }
  const ChatPrompt& chat() const { return chat_; }
  const PromptBuilder& prompts() const { return prompts_; }
  int64_t created() const { return created_; }  // unix time it was loaded (GET /v1/models)

 private:
  std::string name_;
  Engine& engine_;
  ChatPrompt chat_;
  PromptBuilder prompts_;
  int64_t created_;
};

}  // namespace nagare
