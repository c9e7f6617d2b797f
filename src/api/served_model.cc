#include "api/served_model.h"

#include "api/api_error.h"

namespace nagare {

ServedModel::ServedModel(std::string name, Engine& engine, int64_t created)
    : name_(std::move(name)),
      engine_(engine),
      chat_(engine.model().file(), engine.tokenizer()),
      prompts_(chat_, engine.tokenizer()),
      created_(created) {}

void ServedModel::check_model(const std::string& requested) const {
  if (!requested.empty() && requested != name_) throw ApiError::model_not_found(requested);
}

}  // namespace nagare
