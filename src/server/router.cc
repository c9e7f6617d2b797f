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

Router::Router() {
  error_ = [](int status, const std::string& message, const std::string& code) {
    return HttpResponse::json(status, to_wire(error_json(message, error_type_for_status(status), "", code)));
  };
}

void Router::add(std::string method, std::string path, Handler handler) {
  routes_.push_back({std::move(method), std::move(path), false, std::move(handler)});
}

void Router::add_prefix(std::string method, std::string prefix, Handler handler) {
  routes_.push_back({std::move(method), std::move(prefix), true, std::move(handler)});
}

void Router::use(Middleware middleware) { middleware_.push_back(std::move(middleware)); }

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
  if (best) return best->handler(request);
  if (path_known) {
    HttpResponse res = error(405, "Method " + request.method + " is not allowed for " + request.path +
                                      " (allowed: " + allowed + ")",
                             "method_not_allowed");
    res.headers.emplace_back("Allow", allowed);
    return res;
  }
  return error(404, "Unknown route " + request.method + " " + request.path, "not_found");
}

HttpResponse Router::handle(const HttpRequest& request) const {
  try {
    for (const Middleware& m : middleware_)
      if (auto res = m(request)) return std::move(*res);
    return route(request);
  } catch (const ApiError& e) {
    return HttpResponse::json(e.status(), to_wire(error_json(e)));
  } catch (const Error& e) {
    return HttpResponse::json(400, to_wire(error_json(e.what(), "invalid_request_error")));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nagare: internal error on %s %s: %s\n", request.method.c_str(),
                 request.path.c_str(), e.what());
    return error(500, std::string("internal error: ") + e.what());
  }
}

}  // namespace nagare
