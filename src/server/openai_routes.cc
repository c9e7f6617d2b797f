#include "server/openai_routes.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "api/api_error.h"
#include "api/completion_job.h"
#include "api/embeddings_job.h"
#include "server/job_source.h"
#include "server/web_routes.h"

namespace nagare {
namespace {

HttpResponse run_job(ModelRegistry& models, ResponseCache* cache, const HttpRequest& req, const Json& body,
                     OpenAiRequest request) {
  note_generation(req, body, "openai", request.endpoint == Endpoint::kChat ? "messages" : "prompt", request.stream);
  if (req.record) request.generate.user = req.record->user;
  ModelLease lease = models.acquire(request.model, std::nullopt);
  auto job = std::make_unique<CompletionJob>(lease->served(), std::move(request), cache);
  job->submit();
  HttpResponse res;
  if (!job->cache_status().empty()) res.headers.emplace_back("X-Nagare-Cache", job->cache_status());
  res.streamed = job->streaming();
  if (res.streamed) {
    res.content_type = "text/event-stream";
    res.headers.emplace_back("Cache-Control", "no-cache");
    res.headers.emplace_back("X-Accel-Buffering", "no");  // proxies must not hold the stream back
  }
  res.source = std::make_shared<JobSource<CompletionJob>>(std::move(job), std::move(lease), req.record);
  return res;
}

Json stats_json(const EngineStats& s) {
  Json j;
  j["running"] = s.running;
  j["waiting"] = s.waiting;
  j["kv_blocks_total"] = s.kv_blocks_total;
  j["kv_blocks_in_use"] = s.kv_blocks_in_use;
  j["kv_blocks_cached"] = s.kv_blocks_cached;
  j["prompt_tokens"] = s.prompt_tokens;
  j["prefix_cache_queries"] = s.prefix_cache_queries;
  j["prefix_cache_hit_tokens"] = s.prefix_cache_hit_tokens;
  j["generated_tokens"] = s.generated_tokens;
  j["preemptions"] = s.preemptions;
  j["steps"] = s.steps;
  j["draft_tokens"] = s.draft_tokens;
  j["draft_accepted_tokens"] = s.draft_accepted_tokens;
  return j;
}

void add(EngineStats& to, const EngineStats& s) {
  to.running += s.running;
  to.waiting += s.waiting;
  to.kv_blocks_total += s.kv_blocks_total;
  to.kv_blocks_in_use += s.kv_blocks_in_use;
  to.kv_blocks_cached += s.kv_blocks_cached;
  to.prompt_tokens += s.prompt_tokens;
  to.prefix_cache_queries += s.prefix_cache_queries;
  to.prefix_cache_hit_tokens += s.prefix_cache_hit_tokens;
  to.generated_tokens += s.generated_tokens;
  to.preemptions += s.preemptions;
  to.steps += s.steps;
  to.draft_tokens += s.draft_tokens;
  to.draft_accepted_tokens += s.draft_accepted_tokens;
}

// The value of `key` in an undecoded query string ("model=a&x=1"), or "".
std::string query_value(const std::string& query, const std::string& key) {
  size_t pos = 0;
  while (pos <= query.size()) {
    const size_t end = std::min(query.find('&', pos), query.size());
    const std::string part = query.substr(pos, end - pos);
    if (part.compare(0, key.size() + 1, key + "=") == 0) return part.substr(key.size() + 1);
    pos = end + 1;
  }
  return "";
}

// The pinned model, then every store model (a name in both is listed once).
// The models the request may see: the pinned one and the store, less what its API key excludes.
std::vector<std::pair<std::string, int64_t>> listed_models(const ModelRegistry& models, const HttpRequest& req) {
  std::vector<std::pair<std::string, int64_t>> out;
  if (auto p = models.pinned()) out.emplace_back(p->name(), p->served().created());
  if (const ModelStore* store = models.store()) {
    for (const StoredModel& m : store->list()) {
      const std::string name = m.name.display();
      if (!out.empty() && models.pinned() && name == out.front().first) continue;
      out.emplace_back(name, m.modified_unix);
    }
  }
  if (req.record)
    std::erase_if(out, [&](const auto& m) { return !req.record->may_use(m.first); });
  return out;
}

}  // namespace

void add_openai_routes(Router& router, ModelRegistry& models, ResponseCache* cache) {
  // OpenAI's error shape on its paths, and on every path no other API claims.
  auto openai_error = [](const ApiError& e) { return HttpResponse::json(e.status(), to_wire(error_json(e))); };
  router.set_error_formatter("", openai_error);
  router.set_error_formatter("/v1/", openai_error);
  router.add("POST", "/v1/chat/completions", [&models, cache](const HttpRequest& req) {
    const Json body = parse_json_body(req.body);
    return run_job(models, cache, req, body, parse_chat_request(body));
  });
  router.add("POST", "/v1/completions", [&models, cache](const HttpRequest& req) {
    const Json body = parse_json_body(req.body);
    return run_job(models, cache, req, body, parse_completion_request(body));
  });
  router.add("POST", "/v1/embeddings", [&models](const HttpRequest& req) {
    const Json body = parse_json_body(req.body);
    EmbeddingsRequest request = parse_openai_embeddings(body);
    note_generation(req, body, "openai", "input", false);
    ModelLease lease = models.acquire(request.model, std::nullopt);
    auto job = std::make_unique<EmbeddingsJob>(lease->served(), std::move(request));
    job->submit();
    HttpResponse res;
    res.source = std::make_shared<JobSource<EmbeddingsJob>>(std::move(job), std::move(lease), req.record);
    return res;
  });
  // A loaded model states its context as vLLM does (max_model_len), so clients that cut work to
  // fit it (nagare extract --url) need not be told. (A store model not loaded yet has none.)
  auto with_context = [&models](Json m) {
    for (const LoadedModelInfo& l : models.loaded())
      if (m["id"] == l.model->name()) m["max_model_len"] = l.model->served().engine().options().n_ctx;
    return m;
  };
  router.add("GET", "/v1/models", [&models, with_context](const HttpRequest& req) {
    Json data = Json::array();
    for (const auto& [name, created] : listed_models(models, req)) data.push_back(with_context(model_json(name, created)));
    return HttpResponse::json(200, to_wire(Json{{"object", "list"}, {"data", std::move(data)}}));
  });
  router.add_prefix("GET", "/v1/models/", [&models, with_context](const HttpRequest& req) {
    const std::string id = req.path.substr(std::string("/v1/models/").size());
    const std::optional<std::string> key = id.empty() ? std::nullopt : models.canonical_name(id);
    if (key) {
      for (const auto& [name, created] : listed_models(models, req))
        if (name == *key) return HttpResponse::json(200, to_wire(with_context(model_json(name, created))));
    }
    throw ApiError(404, "The model '" + id + "' does not exist", "invalid_request_error", "model", "model_not_found");
  });
}

void add_service_routes(Router& router, ModelRegistry& models, const ServingState& state) {
  // While the model loads or the server drains, only /health and /metrics are answered.
  const Router* r = &router;
  router.use([&state, r](const HttpRequest& req) -> std::optional<HttpResponse> {
    const ServingState::Phase phase = state.phase();
    if (phase == ServingState::Phase::kReady || req.path == "/health" || req.path == "/metrics" || is_public_page(req))
      return std::nullopt;
    const bool loading = phase == ServingState::Phase::kLoading;
    HttpResponse res = r->error(ApiError(503, loading ? "Loading model" : "the server is shutting down", "unavailable_error",
                                         "", loading ? "loading" : "shutting_down"),
                                req.path);
    res.headers.emplace_back("Retry-After", "1");
    return res;
  });
  router.add("GET", "/health", [&state](const HttpRequest&) {
    switch (state.phase()) {
      case ServingState::Phase::kLoading: return HttpResponse::json(503, R"({"status":"loading"})");
      case ServingState::Phase::kDraining: return HttpResponse::json(503, R"({"status":"draining"})");
      default: return HttpResponse::json(200, R"({"status":"ok"})");
    }
  });
  router.add("GET", "/v1/engine/stats", [&models](const HttpRequest& req) {
    const std::string wanted = query_value(req.query, "model");
    EngineStats sum{};
    if (wanted.empty()) {
      if (auto p = models.pinned()) return HttpResponse::json(200, to_wire(stats_json(p->engine().stats())));
      for (const LoadedModelInfo& m : models.loaded()) add(sum, m.model->engine().stats());
      return HttpResponse::json(200, to_wire(stats_json(sum)));
    }
    const std::optional<std::string> key = models.canonical_name(wanted);
    for (const LoadedModelInfo& m : models.loaded())
      if (key && m.model->name() == *key) return HttpResponse::json(200, to_wire(stats_json(m.model->engine().stats())));
    throw ApiError(404, "the model '" + wanted + "' is not loaded", "invalid_request_error", "model", "model_not_found");
  });
  // The requests every loaded model is running or queueing now, for the dashboard. A key limited
  // to some models sees only its own user's requests on those models.
  router.add("GET", "/v1/engine/requests", [&models](const HttpRequest& req) {
    const auto now = std::chrono::steady_clock::now();
    const bool limited_key = req.record && !req.record->allowed_models.empty();
    Json data = Json::array();
    for (const LoadedModelInfo& m : models.loaded()) {
      const std::string& name = m.model->name();
      if (req.record && !req.record->may_use(name)) continue;
      for (const LiveRequest& r : m.model->engine().live_requests()) {
        if (limited_key && r.user != req.record->user) continue;
        static constexpr const char* kStates[] = {"waiting", "prefill", "decode"};
        data.push_back({{"id", std::to_string(r.id)},
                        {"model", name},
                        {"user", r.user},
                        {"state", kStates[int(r.state)]},
                        {"age_s", std::chrono::duration<double>(now - r.queued_at).count()},
                        {"prompt_tokens", r.prompt_tokens},
                        {"cached_tokens", r.cached_tokens},
                        {"completion_tokens", r.completion_tokens}});
      }
    }
    return HttpResponse::json(200, to_wire(Json{{"object", "list"}, {"data", std::move(data)}}));
  });
}

}  // namespace nagare
