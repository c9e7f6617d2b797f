#include "server/openai_routes.h"

#include <memory>

#include "api/api_error.h"
#include "api/completion_job.h"

namespace nagare {
namespace {

// Adapts a CompletionJob to the session's ResponseSource.
class JobSource : public ResponseSource {
 public:
  explicit JobSource(std::unique_ptr<CompletionJob> job) : job_(std::move(job)) {}
  void start(std::function<void()> wake) override {
    job_->set_notify(wake);
    wake();  // tokens may have arrived before the notify was set
  }
  bool poll(std::string& out) override { return job_->poll(out); }
  void cancel() override { job_->cancel(); }
  int status() const override { return job_->status(); }

 private:
  std::unique_ptr<CompletionJob> job_;
};

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
  res.source = std::make_shared<JobSource>(std::move(job));
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
