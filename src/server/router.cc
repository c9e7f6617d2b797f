#include "server/router.h"

#include <algorithm>
#include <cstdio>

#include "api/api_error.h"

namespace nagare {

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

Router::Router() = default;

void Router::set_error_formatter(std::string path_prefix, ErrorFormatter formatter) {
  for (auto& [prefix, f] : formatters_)
    if (prefix == path_prefix) {
      f = std::move(formatter);
      return;
    }
  formatters_.emplace_back(std::move(path_prefix), std::move(formatter));
}

HttpResponse Router::error(const ApiError& e, std::string_view path) const {
  HttpResponse res = shaped_error(e, path);
  if (e.retry_after_s() > 0) res.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s()));
  return res;
}

HttpResponse Router::shaped_error(const ApiError& e, std::string_view path) const {
  const ErrorFormatter* best = nullptr;
  size_t best_len = 0;
  for (const auto& [prefix, f] : formatters_)
    if (path.substr(0, prefix.size()) == prefix && (best == nullptr || prefix.size() > best_len)) {
      best = &f;
      best_len = prefix.size();
    }
  if (best != nullptr) return (*best)(e);
  nlohmann::ordered_json body;
  body["error"]["message"] = e.what();
  body["error"]["code"] = e.code().empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.code());
  return HttpResponse::json(e.status(), to_wire(body));
}

HttpResponse Router::error(int status, const std::string& message, const std::string& code, std::string_view path) const {
  return error(ApiError(status, message, error_type_for_status(status), "", code), path);
}

void Router::add(std::string method, std::string path, Handler handler) {
  routes_.push_back({std::move(method), std::move(path), false, std::move(handler)});
}

void Router::add_prefix(std::string method, std::string prefix, Handler handler) {
  routes_.push_back({std::move(method), std::move(prefix), true, std::move(handler)});
}

void Router::use(Middleware middleware) { middleware_.push_back(std::move(middleware)); }

void Router::observe(Observer observer) { observers_.push_back(std::move(observer)); }

void Router::finished(const RequestRecord& record) const {
  for (const Observer& o : observers_) {
    try {
      o(record);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nagare: request observer failed: %s\n", e.what());
    }
  }
}

HttpResponse Router::route(const HttpRequest& request) const {
  const Route* best = nullptr;
  bool path_known = false;
  std::string allowed;
  auto better = [&](const Route& r) {
    if (!best) return true;
    if (best->prefix != r.prefix) return !r.prefix;
    return r.path.size() > best->path.size();
  };
  for (const Route& r : routes_) {
    const bool match = r.prefix ? request.path.compare(0, r.path.size(), r.path) == 0
                                : request.path == r.path;
    if (!match) continue;
    path_known = true;
    if (r.method != request.method) {
      if (allowed.find(r.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + r.method;
      continue;
    }
    if (better(r)) best = &r;
  }
  if (best) {
    if (request.record) request.record->route = best->path;
    return best->handler(request);
  }
  if (path_known) {
    HttpResponse res = error(405, "Method " + request.method + " is not allowed for " + request.path +
                                      " (allowed: " + allowed + ")",
                             "method_not_allowed", request.path);
    res.headers.emplace_back("Allow", allowed);
    return res;
  }
  return error(404, "Unknown route " + request.method + " " + request.path, "not_found", request.path);
}

void Router::decorate(Decorator decorator) { decorators_.push_back(std::move(decorator)); }

HttpResponse Router::handle(const HttpRequest& request) const {
  HttpResponse res = respond(request);
  for (const Decorator& d : decorators_) d(request, res);
  return res;
}

HttpResponse Router::respond(const HttpRequest& request) const {
  try {
    for (const Middleware& m : middleware_)
      if (auto res = m(request)) return std::move(*res);
    return route(request);
  } catch (const ApiError& e) {
    return error(e, request.path);
  } catch (const Error& e) {
    return error(ApiError::invalid(e.what()), request.path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nagare: internal error on %s %s: %s\n", request.method.c_str(),
                 request.path.c_str(), e.what());
    return error(500, std::string("internal error: ") + e.what(), "", request.path);
  }
}

}  // namespace nagare
