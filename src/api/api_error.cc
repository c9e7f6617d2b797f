#include "api/api_error.h"

namespace nagare {

ApiError ApiError::invalid(std::string message, std::string param, std::string code) {
  return ApiError(400, std::move(message), "invalid_request_error", std::move(param), std::move(code));
}

ApiError ApiError::model_not_found(const std::string& model) {
  return ApiError(404, "The model '" + model + "' does not exist", "invalid_request_error", "model",
                  "model_not_found");
}

ApiError ApiError::context_length(std::string message, std::string param) {
  return ApiError(400, std::move(message), "invalid_request_error", std::move(param),
                  "context_length_exceeded");
}

ApiError ApiError::from_engine(const RequestError& e, const std::string& prompt_param) {
  const std::string& param = e.field() == "prompt" ? prompt_param : e.field();
  if (e.kind() == RequestError::Kind::kOverloaded)
    return ApiError(503, e.what(), "server_error", "", "server_busy").with_retry_after(1);
  if (e.kind() != RequestError::Kind::kContextLength) return invalid(e.what(), param);
  const std::string head = "This model's maximum context length is " + std::to_string(e.n_ctx()) + " tokens. ";
  const std::string p = std::to_string(e.prompt_tokens()), out = std::to_string(e.output_tokens());
  if (e.output_requested())
    return context_length(head + "However, you requested " + std::to_string(e.prompt_tokens() + e.output_tokens()) +
                              " tokens (" + p + " in the " + param + ", " + out + " for the completion). Please reduce the length of the " +
                              param + " or the completion.",
                          param);
  return context_length(head + "However, your " + param + " resulted in " + p + " tokens, which leaves no room for " + out +
                            " new token(s). Please reduce the length of the " + param + ".",
                        param);
}

nlohmann::ordered_json error_json(const std::string& message, const std::string& type,
                                  const std::string& param, const std::string& code) {
  nlohmann::ordered_json e;
  e["message"] = message;
  e["type"] = type;
  e["param"] = param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(param);
  e["code"] = code.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(code);
  return {{"error", std::move(e)}};
}

nlohmann::ordered_json error_json(const ApiError& e) {
  return error_json(e.what(), e.type(), e.param(), e.code());
}

const char* error_type_for_status(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    default: break;
  }
  return status >= 500 ? "server_error" : "invalid_request_error";
}

std::string to_wire(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace nagare
