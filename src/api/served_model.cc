#include "api/served_model.h"

#include "api/api_error.h"
#include "model/model.h"
#include "api/ollama_models.h"
#include "store/model_name.h"

namespace nagare {

ServedModel::ServedModel(std::string name, Engine& engine, int64_t created, Overrides overrides)
    : name_(std::move(name)),
      engine_(engine),
      overrides_(std::move(overrides)),
      chat_(engine.model().file(), engine.tokenizer(), overrides_.template_text),
      prompts_(chat_, engine.tokenizer(), overrides_.preset),
      created_(created) {}

std::string ServedModel::identity() const {
  return name_ + "/" + std::to_string(engine_.model().file().file_size()) + "/" +
         std::to_string(engine_.options().n_ctx);
}

void ServedModel::check_model(const std::string& requested) const {
  if (requested.empty() || same_model_name(requested, name_)) return;
  // A store model under any spelling of its name ("library/smollm2" is "smollm2:latest").
  try {
    if (ModelName::parse(requested).display() == name_) return;
  } catch (const Error&) {
  }
  throw ApiError::model_not_found(requested);
}

}  // namespace nagare
