#include "api/request_record.h"

#include "store/model_name.h"
#include "util/error.h"

namespace nagare {

std::string canonical_model_name(std::string_view name) {
  try {
    return ModelName::parse(name).display();
  } catch (const Error&) {
    return std::string(name);
  }
}

bool RequestRecord::may_use(std::string_view model) const {
  if (allowed_models.empty()) return true;
  const std::string c = canonical_model_name(model);
  for (const std::string& m : allowed_models)
    if (m == c) return true;
  return false;
}

}  // namespace nagare
