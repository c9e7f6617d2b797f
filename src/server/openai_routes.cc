#include "server/openai_routes.h"

#include <memory>

#include "api/api_error.h"
#include "api/completion_job.h"
#include "server/job_source.h"

namespace nagare {
namespace {

HttpResponse run_job(const ServedModel& model, OpenAiRequest request) {
  auto job = std::make_unique<CompletionJob>(model, std::move(request));
  job->submit();
  HttpResponse res;
  res.streamed = job->streaming();
  if (res.streamed) {
    res.content_type = "text/event-stream";
    res.headers.emplace_back("Cache-Control", "no-cache");
    res.headers.emplace_back("X-Accel-Buffering", "no");  // proxies must not hold the stream back
  }
  res.source = std::make_shared<JobSource<CompletionJob>>(std::move(job));
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
  j["prefix_cache_hit_tokens"] = s.prefix_cache_hit_tokens;
  j["generated_tokens"] = s.generated_tokens;
  j["preemptions"] = s.preemptions;
  j["steps"] = s.steps;
  return j;
}

}  // namespace

void add_openai_routes(Router& router, const ServedModel& model) {
  // OpenAI's error shape on its paths, and on every path no other API claims.
  auto openai_error = [](const ApiError& e) { return HttpResponse::json(e.status(), to_wire(error_json(e))); };
  router.set_error_formatter("", openai_error);
  router.set_error_formatter("/v1/", openai_error);
  router.add("POST", "/v1/chat/completions", [&model](const HttpRequest& req) {
    return run_job(model, parse_chat_request(parse_json_body(req.body)));
  });
  router.add("POST", "/v1/completions", [&model](const HttpRequest& req) {
    return run_job(model, parse_completion_request(parse_json_body(req.body)));
  });
  router.add("GET", "/v1/models", [&model](const HttpRequest&) {
    return HttpResponse::json(200, to_wire(model_list_json({model.name()}, model.created())));
  });
  router.add_prefix("GET", "/v1/models/", [&model](const HttpRequest& req) {
    const std::string id = req.path.substr(std::string("/v1/models/").size());
    if (id != model.name()) throw ApiError(404, "The model '" + id + "' does not exist",
                                         "invalid_request_error", "model", "model_not_found");
    return HttpResponse::json(200, to_wire(model_json(model.name(), model.created())));
  });
}

void add_service_routes(Router& router, const ServedModel& model) {
  router.add("GET", "/health", [](const HttpRequest&) {
    return HttpResponse::json(200, R"({"status":"ok"})");
  });
  router.add("GET", "/v1/engine/stats", [&model](const HttpRequest&) {
    return HttpResponse::json(200, to_wire(stats_json(model.engine().stats())));
  });
}

}  // namespace nagare
