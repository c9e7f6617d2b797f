// Router: (method, path) -> handler, with prefix routes ("/v1/models/") and middleware that runs
// before routing (auth, metrics, ... plug in here). Unknown paths give 404, known paths with
// another method 405; a handler's ApiError becomes its status and OpenAI error shape.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "server/http_types.h"

namespace nagare {

using Handler = std::function<HttpResponse(const HttpRequest&)>;
// Returns a response to answer the request itself (e.g. 401), or nullopt to pass it on.
using Middleware = std::function<std::optional<HttpResponse>(const HttpRequest&)>;
// Builds an error response for a status and message (404, 405, 500...); OpenAI's shape by default.
using ErrorFormatter = std::function<HttpResponse(int status, const std::string& message, const std::string& code)>;

class Router {
 public:
  Router();
  void add(std::string method, std::string path, Handler handler);
  // Matches every path that starts with `prefix`; the longest matching prefix wins, exact routes
  // win over prefixes.
  void add_prefix(std::string method, std::string prefix, Handler handler);
  void use(Middleware middleware);
  void set_error_formatter(ErrorFormatter formatter) { error_ = std::move(formatter); }

  // Never throws: exceptions from handlers become error responses.
  HttpResponse handle(const HttpRequest& request) const;
  HttpResponse error(int status, const std::string& message, const std::string& code = "") const {
    return error_(status, message, code);
  }

 private:
  struct Route {
    std::string method, path;
    bool prefix;
    Handler handler;
  };
  HttpResponse route(const HttpRequest& request) const;

  std::vector<Route> routes_;
  std::vector<Middleware> middleware_;
  ErrorFormatter error_;
};

}  // namespace nagare
