#include "ops/cors.h"

#include <algorithm>
#include <memory>

namespace nagare {
namespace {

// The value of Access-Control-Allow-Origin for this request, or "" when its origin is not allowed.
std::string allowed_origin(const std::vector<std::string>& origins, const HttpRequest& req) {
  const std::string_view origin = req.header("origin");
  if (origin.empty()) return "";
  for (const std::string& o : origins) {
    if (o == "*") return "*";
    if (o == origin) return std::string(origin);
  }
  return "";
}

}  // namespace

void install_cors(Router& router, std::vector<std::string> origins) {
  auto allowed = std::make_shared<const std::vector<std::string>>(std::move(origins));
  router.use([allowed](const HttpRequest& req) -> std::optional<HttpResponse> {
    if (req.method != "OPTIONS" || req.header("access-control-request-method").empty()) return std::nullopt;
    const std::string origin = allowed_origin(*allowed, req);
    HttpResponse res;
    res.status = origin.empty() ? 403 : 204;
    res.content_type = "text/plain";
    if (origin.empty()) {
      res.body = "origin not allowed";
      return res;
    }
    const std::string_view asked = req.header("access-control-request-headers");
    res.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, HEAD, OPTIONS");
    res.headers.emplace_back("Access-Control-Allow-Headers",
                             asked.empty() ? std::string("Authorization, Content-Type") : std::string(asked));
    res.headers.emplace_back("Access-Control-Max-Age", "600");
    return res;  // the decorator adds Allow-Origin
  });
  router.decorate([allowed](const HttpRequest& req, HttpResponse& res) {
    const std::string origin = allowed_origin(*allowed, req);
    if (origin.empty()) return;
    res.headers.emplace_back("Access-Control-Allow-Origin", origin);
    if (origin != "*") res.headers.emplace_back("Vary", "Origin");
    res.headers.emplace_back("Access-Control-Expose-Headers", "Retry-After");
  });
}

}  // namespace nagare
