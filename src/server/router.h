// Router: (method, path) -> handler, with prefix routes ("/v1/models/"), middleware that runs
// before routing (API keys) and observers that see each request's record at its end (metrics,
// audit log). Unknown paths give 404, known paths with
// another method 405. Protocol-neutral: each API registers an error formatter for its paths
// ("/v1/" OpenAI's nested object, "/api/" Ollama's {"error": "..."}), which turns a typed
// ApiError (a handler's, or the router's own 404/405/500) into that API's error shape.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/api_error.h"
#include "server/http_types.h"

namespace nagare {

using Handler = std::function<HttpResponse(const HttpRequest&)>;
// Returns a response to answer the request itself (e.g. 401), or nullopt to pass it on.
using Middleware = std::function<std::optional<HttpResponse>(const HttpRequest&)>;
// Builds an error response in one API's shape from a typed error (status, message, param, code).
using ErrorFormatter = std::function<HttpResponse(const ApiError& error)>;
// Sees every request once its response has ended (metrics, the audit log, token limits). Runs
// on the connection's I/O thread: it must be quick and must not throw.
using Observer = std::function<void(const RequestRecord& record)>;
// Adds to every response the router gives (CORS headers, ...).
using Decorator = std::function<void(const HttpRequest& request, HttpResponse& response)>;

class Router {
 public:
  Router();
  void add(std::string method, std::string path, Handler handler);
  // Matches every path that starts with `prefix`; the longest matching prefix wins, exact routes
  // win over prefixes.
  void add_prefix(std::string method, std::string prefix, Handler handler);
  void use(Middleware middleware);
  void observe(Observer observer);
  void decorate(Decorator decorator);
  // Called by the session when a response has ended (sent whole, or the client gone).
  void finished(const RequestRecord& record) const;
  // Errors on paths starting with `path_prefix` take this shape (the longest prefix wins; ""
  // covers every other path). Without any: {"error": {"message", "code"}}.
  void set_error_formatter(std::string path_prefix, ErrorFormatter formatter);

  // Never throws: exceptions from handlers become error responses.
  HttpResponse handle(const HttpRequest& request) const;
  // An error response (404, 405, 413, 500...) in the shape of the API that owns `path`, with
  // Retry-After when the error has one.
  HttpResponse error(int status, const std::string& message, const std::string& code = "",
                     std::string_view path = "") const;
  HttpResponse error(const ApiError& error, std::string_view path) const;

 private:
  struct Route {
    std::string method, path;
    bool prefix;
    Handler handler;
  };
  HttpResponse route(const HttpRequest& request) const;
  HttpResponse respond(const HttpRequest& request) const;  // handle() before the decorators
  HttpResponse shaped_error(const ApiError& error, std::string_view path) const;  // error() without headers

  std::vector<Route> routes_;
  std::vector<Middleware> middleware_;
  std::vector<Observer> observers_;
  std::vector<Decorator> decorators_;
  std::vector<std::pair<std::string, ErrorFormatter>> formatters_;
};

}  // namespace nagare
