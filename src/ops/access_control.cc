#include "ops/access_control.h"

#include <cctype>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "server/web_routes.h"
#include "util/error.h"

namespace nagare {
namespace {

constexpr auto kWindow = std::chrono::seconds(60);

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The routes that change the model store: a key limited to some models may not use them.
bool changes_store(const HttpRequest& r) {
  return r.path == "/api/pull" || r.path == "/api/create" || r.path == "/api/copy" || r.path == "/api/delete" ||
         r.path == "/api/push";
}

// The model names a request gives: "model" (and older Ollama clients' "name") in a JSON body,
// or the id in GET /v1/models/ID.
std::vector<std::string> requested_models(const HttpRequest& r) {
  std::vector<std::string> out;
  const std::string prefix = "/v1/models/";
  if (r.path.compare(0, prefix.size(), prefix) == 0 && r.path.size() > prefix.size()) out.push_back(r.path.substr(prefix.size()));
  if (r.body.empty()) return out;
  const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object()) return out;  // the handler reports a malformed body
  for (const char* field : {"model", "name"})
    if (auto it = j.find(field); it != j.end() && it->is_string() && !it->get<std::string>().empty())
      out.push_back(it->get<std::string>());
  return out;
}

int64_t retry_after_s(std::chrono::steady_clock::time_point oldest, std::chrono::steady_clock::time_point now) {
  const double s = std::chrono::duration<double>(oldest + kWindow - now).count();
  return std::max<int64_t>(1, int64_t(std::ceil(s)));
}

}  // namespace

AccessControl::AccessControl(std::vector<std::string> keys, std::string keys_file)
    : inline_keys_(std::move(keys)), keys_file_(std::move(keys_file)) {
  table_ = std::make_shared<KeyTable>(KeyTable::load(inline_keys_, keys_file_));
}

size_t AccessControl::keys() const {
  std::lock_guard lk(mu_);
  return table_->size();
}

bool AccessControl::reload() {
  try {
    auto fresh = std::make_shared<KeyTable>(KeyTable::load(inline_keys_, keys_file_));
    std::lock_guard lk(mu_);
    table_ = std::move(fresh);
    std::fprintf(stderr, "nagare: API keys reloaded (%zu keys)\n", table_->size());
    return true;
  } catch (const Error& e) {
    std::fprintf(stderr, "nagare: API keys not reloaded, the previous keys stay in use: %s\n", e.what());
    return false;
  }
}

void AccessControl::install(Router& router) {
  const Router* r = &router;
  router.use([this, r](const HttpRequest& req) { return check(*r, req); });
  router.observe([this](const RequestRecord& rec) { charge(rec); });
}

std::optional<HttpResponse> AccessControl::check(const Router& router, const HttpRequest& req) {
  if (req.path == "/health" || is_public_page(req)) return std::nullopt;
  std::shared_ptr<const KeyTable> table;
  {
    std::lock_guard lk(mu_);
    table = table_;
  }
  const std::string_view auth = trim(req.header("authorization"));
  const std::string_view token = starts_with_nocase(auth, "bearer ") ? trim(auth.substr(7)) : std::string_view();
  const ApiKey* key = token.empty() ? nullptr : table->find(token);
  if (!key) {
    HttpResponse res = router.error(
        ApiError(401,
                 token.empty() ? "an API key is required: send it as 'Authorization: Bearer KEY'" : "the API key is not valid",
                 "authentication_error", "", "invalid_api_key"),
        req.path);
    res.headers.emplace_back("WWW-Authenticate", "Bearer");
    return res;
  }
  if (req.record) {
    req.record->user = key->user;
    req.record->key_id = key->id;
    req.record->allowed_models = key->models;
  }
  if (!key->models.empty()) {
    if (changes_store(req))
      return router.error(ApiError(403, "this API key may use only some models; changing the model store needs a key "
                                        "without a models list",
                                   "permission_error", "", "forbidden"),
                          req.path);
    for (const std::string& m : requested_models(req))
      if (!KeyTable::allows(*key, m))
        return router.error(ApiError(403, "this API key may not use the model '" + m + "'", "permission_error", "model",
                                     "model_not_allowed"),
                            req.path);
  }
  if (key->requests_per_minute == 0 && key->tokens_per_minute == 0) return std::nullopt;
  const auto now = Clock::now();
  std::lock_guard lk(mu_);
  Window& w = windows_[key->id];
  while (!w.requests.empty() && now - w.requests.front() >= kWindow) w.requests.pop_front();
  while (!w.tokens.empty() && now - w.tokens.front().first >= kWindow) {
    w.tokens_in_window -= w.tokens.front().second;
    w.tokens.pop_front();
  }
  auto limited = [&](const std::string& what, Clock::time_point oldest) {
    HttpResponse res = router.error(
        ApiError(429, "rate limit reached for this API key: " + what + "; retry later", "rate_limit_error", "",
                 "rate_limit_exceeded"),
        req.path);
    res.headers.emplace_back("Retry-After", std::to_string(retry_after_s(oldest, now)));
    return res;
  };
  if (key->requests_per_minute > 0 && int64_t(w.requests.size()) >= key->requests_per_minute)
    return limited(std::to_string(key->requests_per_minute) + " requests per minute", w.requests.front());
  if (key->tokens_per_minute > 0 && w.tokens_in_window >= key->tokens_per_minute)
    return limited(std::to_string(key->tokens_per_minute) + " tokens per minute", w.tokens.front().first);
  w.requests.push_back(now);
  return std::nullopt;
}

void AccessControl::charge(const RequestRecord& rec) {
  if (rec.key_id.empty() || !rec.generation) return;
  const int64_t tokens = rec.prompt_tokens + rec.completion_tokens;
  if (tokens <= 0) return;
  const auto now = Clock::now();
  std::lock_guard lk(mu_);
  Window& w = windows_[rec.key_id];
  while (!w.tokens.empty() && now - w.tokens.front().first >= kWindow) {
    w.tokens_in_window -= w.tokens.front().second;
    w.tokens.pop_front();
  }
  w.tokens.emplace_back(now, tokens);
  w.tokens_in_window += tokens;
}

}  // namespace nagare
