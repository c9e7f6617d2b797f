#include "server/web_routes.h"

#include <map>
#include <string>
#include <string_view>

#include "api/api_error.h"
#include "server/web_assets.h"
#include "util/sha256.h"

namespace nagare {
namespace {

std::string_view content_type(std::string_view path) {
  const std::string_view ext = path.substr(std::min(path.rfind('.'), path.size()));
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".json") return "application/json";
  return "application/octet-stream";
}

// What the pages may do: load their own scripts, styles and images, and talk to this server.
// Nothing inline, nothing from elsewhere — so even text that slipped into the page as markup
// could not run.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
  std::string_view bytes, type;
  std::string etag;
};

// Path relative to web/ -> bytes, type and a strong ETag (a hash of the bytes: clients revalidate
// with If-None-Match and get 304 until the binary serves other bytes).
const std::map<std::string, Asset, std::less<>>& assets() {
  static const std::map<std::string, Asset, std::less<>> table = [] {
    std::map<std::string, Asset, std::less<>> t;
    for (const WebAsset& a : web_assets())
      t[std::string(a.path)] = {a.bytes, content_type(a.path), "\"" + sha256_hex(a.bytes).substr(0, 20) + "\""};
    return t;
  }();
  return table;
}

HttpResponse serve_asset(const HttpRequest& req, std::string_view path) {
  const auto it = assets().find(path);
  if (it == assets().end()) throw ApiError(404, "no such file: " + req.path, "invalid_request_error", "", "not_found");
  const Asset& a = it->second;
  HttpResponse res;
  res.content_type = std::string(a.type);
  res.headers.emplace_back("ETag", a.etag);
  res.headers.emplace_back("Cache-Control", "no-cache");  // revalidate: a new binary may serve new files
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (a.type.starts_with("text/html")) {
    res.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (req.header("if-none-match") == a.etag) {
    res.status = 304;
    return res;
  }
  if (req.method == "GET") res.body = std::string(a.bytes);
  return res;
}

bool wants_html(const HttpRequest& req) { return req.header("accept").find("text/html") != std::string_view::npos; }

}  // namespace

bool is_public_page(const HttpRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") return false;
  return req.path == "/" || req.path == "/dashboard" || req.path.starts_with("/ui/");
}

void add_web_routes(Router& router, bool serve_pages) {
  auto root = [serve_pages](const HttpRequest& req) {
    if (serve_pages && wants_html(req)) return serve_asset(req, "index.html");
    HttpResponse r;  // Ollama's liveness answer (clients probe GET or HEAD /)
    r.content_type = "text/plain; charset=utf-8";
    if (req.method == "GET") r.body = "nagare is running";
    return r;
  };
  router.add("GET", "/", root);
  router.add("HEAD", "/", root);
  if (!serve_pages) return;
  for (const char* method : {"GET", "HEAD"}) {
    router.add(method, "/dashboard", [](const HttpRequest& req) { return serve_asset(req, "dashboard.html"); });
    router.add_prefix(method, "/ui/", [](const HttpRequest& req) {
      return serve_asset(req, std::string_view(req.path).substr(std::string_view("/ui/").size()));
    });
  }
}

}  // namespace nagare
