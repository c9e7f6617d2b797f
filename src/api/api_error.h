// ApiError: a request the API rejects, with the HTTP status and the fields of OpenAI's error
// shape {"error": {"message", "type", "param", "code"}}. Thrown by request parsing, caught by the
// server, which turns it into a response with error_json().
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/request_error.h"
#include "util/error.h"

namespace nagare {

class ApiError : public Error {
 public:
  ApiError(int status, std::string message, std::string type, std::string param = "",
           std::string code = "")
      : Error(message), status_(status), type_(std::move(type)), param_(std::move(param)),
        code_(std::move(code)) {}

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }  // "" -> null
  const std::string& code() const { return code_; }    // "" -> null
  // Seconds a client should wait before retrying (a Retry-After header); 0: none.
  int retry_after_s() const { return retry_after_s_; }
  ApiError& with_retry_after(int seconds) {
    retry_after_s_ = seconds;
    return *this;
  }

  // 400 invalid_request_error: a malformed body or a field with a wrong type or value.
  static ApiError invalid(std::string message, std::string param = "", std::string code = "");
  // 404 model_not_found.
  static ApiError model_not_found(const std::string& model);
  // 400 context_length_exceeded; param is "messages" or "prompt".
  static ApiError context_length(std::string message, std::string param);
  // The engine's refusal in OpenAI's terms: context_length_exceeded with OpenAI's wording, 503
  // server_busy (Retry-After 1) for a full queue, or invalid_request_error naming the field. `prompt_param` ("messages" or "prompt") stands for
  // the engine's "prompt".
  static ApiError from_engine(const RequestError& e, const std::string& prompt_param);

 private:
  int status_;
  std::string type_, param_, code_;
  int retry_after_s_ = 0;
};

// {"error": {"message", "type", "param", "code"}} with null for empty param / code.
nlohmann::ordered_json error_json(const std::string& message, const std::string& type,
                                  const std::string& param = "", const std::string& code = "");
nlohmann::ordered_json error_json(const ApiError& e);

// The error type OpenAI uses for a status: 400 invalid_request_error, 401 authentication_error,
// 404 not_found_error, 5xx server_error, ...
const char* error_type_for_status(int status);

// JSON text for the wire: bytes that are not valid UTF-8 (a token that splits a character) become
// U+FFFD instead of making dump() throw.
std::string to_wire(const nlohmann::ordered_json& j);

}  // namespace nagare
