#include "balancer/balancer_routes.h"

#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "api/api_error.h"
#include "balancer/routing_key.h"
#include "balancer/worker_monitor.h"
#include "ops/prometheus_text.h"
#include "util/percent_encode.h"

namespace nagare {
namespace {

using Json = nlohmann::ordered_json;

// The requests whose prompt decides the worker (the rest go to the least loaded).
const std::set<std::string, std::less<>> kGenerationPaths = {
    "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/api/chat", "/api/generate", "/api/embed",
    "/api/embeddings"};

// The client's headers a worker needs; hop-by-hop ones and Host are the router's own.
bool passed_on(const std::string& name) {
  return name == "content-type" || name == "accept" || name == "authorization" || name == "user-agent" ||
         name == "x-request-id" || name == "openai-organization" || name == "openai-project";
}

Json worker_json(const Worker& w) {
  return {{"url", w.url},           {"source", w.source},   {"healthy", w.healthy.load()},
          {"in_flight", w.in_flight.load()}, {"reported_load", w.reported_load.load()},
          {"requests", w.requests.load()},   {"ejections", w.ejections.load()}};
}

std::string metrics_text(const Balancer& b, const ProxyStats& stats) {
  PrometheusWriter w;
  const auto workers = b.workers();
  w.family("nagare:router_requests_total", "counter", "Requests sent to each worker (retries included).");
  for (const auto& x : workers) w.sample("nagare:router_requests_total", prometheus_label("worker", x->url), double(x->requests));
  w.family("nagare:router_worker_in_flight", "gauge", "Requests in flight to each worker through this router.");
  for (const auto& x : workers) w.sample("nagare:router_worker_in_flight", prometheus_label("worker", x->url), x->in_flight.load());
  w.family("nagare:router_worker_load", "gauge", "Each worker's running plus waiting requests, from its /metrics (-1: unknown).");
  for (const auto& x : workers) w.sample("nagare:router_worker_load", prometheus_label("worker", x->url), x->reported_load.load());
  w.family("nagare:router_worker_healthy", "gauge", "1 while a worker passes its health checks.");
  for (const auto& x : workers) w.sample("nagare:router_worker_healthy", prometheus_label("worker", x->url), x->healthy ? 1 : 0);
  w.family("nagare:router_ejections_total", "counter", "Times each worker was taken out of rotation.");
  for (const auto& x : workers) w.sample("nagare:router_ejections_total", prometheus_label("worker", x->url), double(x->ejections));
  w.family("nagare:router_cache_aware_hits_total", "counter", "Requests sent to a worker for the prefix it has cached.");
  w.sample("nagare:router_cache_aware_hits_total", "", double(b.cache_hits()));
  w.family("nagare:router_retries_total", "counter", "Requests retried on another worker before any byte was sent back.");
  w.sample("nagare:router_retries_total", "", double(stats.retries));
  w.family("nagare:router_failed_mid_stream_total", "counter", "Answers cut short because their worker failed while streaming.");
  w.sample("nagare:router_failed_mid_stream_total", "", double(stats.failed_mid_stream));
  w.family("nagare:router_no_worker_total", "counter", "Requests no worker could take.");
  w.sample("nagare:router_no_worker_total", "", double(stats.no_worker));
  w.family("nagare:router_prefix_tree_bytes", "gauge", "Bytes of prompt text in the cache-aware prefix tree.");
  w.sample("nagare:router_prefix_tree_bytes", "", double(b.tree_chars()));
  return w.take();
}

}  // namespace

void add_balancer_routes(Router& router, Balancer& balancer, ProxyStats& stats, const ServingState& state,
                         std::string worker_api_key) {
  const auto key = std::make_shared<const std::string>(std::move(worker_api_key));
  auto openai_error = [](const ApiError& e) { return HttpResponse::json(e.status(), to_wire(error_json(e))); };
  router.set_error_formatter("", openai_error);
  router.set_error_formatter("/v1/", openai_error);
  router.set_error_formatter("/api/", [](const ApiError& e) {
    return HttpResponse::json(e.status(), to_wire(Json{{"error", e.what()}}));
  });

  // While draining, new requests are refused (a load balancer in front moves on).
  const Router* r = &router;
  router.use([&state, r](const HttpRequest& req) -> std::optional<HttpResponse> {
    if (state.phase() != ServingState::Phase::kDraining || req.path == "/health" || req.path == "/metrics")
      return std::nullopt;
    HttpResponse res = r->error(ApiError(503, "the router is shutting down", "unavailable_error", "", "shutting_down"), req.path);
    res.headers.emplace_back("Retry-After", "1");
    return res;
  });

  auto proxy = [&router, &balancer, &stats, key](const HttpRequest& req) {
    ProxyRequest p;
    p.method = req.method;
    p.target = req.target;
    p.body = req.body;
    for (const auto& [name, value] : req.headers)
      if (passed_on(name) && !(name == "authorization" && !key->empty())) p.headers.emplace_back(name, value);
    if (!key->empty()) p.headers.emplace_back("authorization", "Bearer " + *key);
    if (req.method == "POST" && kGenerationPaths.count(req.path)) {
      p.key = routing_key(req.body);
      p.chat = req.path == "/v1/chat/completions" || req.path == "/api/chat";
    }
    Balancer::Choice choice = balancer.choose(p.key);
    if (!choice.worker) {
      stats.no_worker.fetch_add(1);
      throw ApiError(503, "no healthy worker to send the request to", "unavailable_error", "", "no_worker").with_retry_after(1);
    }
    HttpResponse res;
    res.head_from_source = true;
    const std::string path = req.path;
    res.source = std::make_shared<ProxySource>(
        balancer, stats, std::move(p), std::move(choice),
        [&router, path](int status, const std::string& message, const std::string& code) {
          return router.error(status, message, code, path);
        });
    return res;
  };
  for (const char* method : {"GET", "POST", "DELETE", "HEAD"}) {
    router.add_prefix(method, "/v1/", proxy);
    router.add_prefix(method, "/api/", proxy);
  }

  router.add("GET", "/health", [&balancer, &state](const HttpRequest&) {
    const int healthy = balancer.healthy_workers();
    if (state.phase() == ServingState::Phase::kDraining)
      return HttpResponse::json(503, to_wire(Json{{"status", "draining"}, {"healthy_workers", healthy}}));
    return HttpResponse::json(healthy > 0 ? 200 : 503,
                              to_wire(Json{{"status", healthy > 0 ? "ok" : "no_healthy_worker"}, {"healthy_workers", healthy}}));
  });
  router.add("GET", "/metrics", [&balancer, &stats](const HttpRequest&) {
    HttpResponse res;
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    res.body = metrics_text(balancer, stats);
    return res;
  });
  router.add("GET", "/workers", [&balancer](const HttpRequest&) {
    Json list = Json::array();
    for (const auto& w : balancer.workers()) list.push_back(worker_json(*w));
    return HttpResponse::json(200, to_wire(Json{{"workers", std::move(list)}}));
  });
  router.add("POST", "/workers", [&balancer, key](const HttpRequest& req) {
    const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("url") || !body["url"].is_string())
      throw ApiError::invalid("the body is {\"url\": \"http://host:port\"}", "url");
    std::shared_ptr<Worker> w;
    try {
      const std::string url = body["url"].get<std::string>();
      const std::string full = url.find("://") == std::string::npos ? "http://" + url : url;
      if (const std::string why = not_an_api_server(full, std::chrono::seconds(2), *key); !why.empty())
        throw ApiError::invalid(why, "url");
      w = balancer.add(url, "api");
    } catch (const ApiError&) {
      throw;
    } catch (const Error& e) {
      throw ApiError::invalid(e.what(), "url");
    }
    return HttpResponse::json(201, to_wire(worker_json(*w)));
  });
  // DELETE /workers/<the worker's URL, percent-encoded> (or ?url=...).
  auto remove = [&balancer](const HttpRequest& req) {
    std::string url = percent_decode(std::string_view(req.path).substr(std::min(req.path.size(), std::string("/workers/").size())));
    if (url.empty() && req.query.starts_with("url=")) url = percent_decode(std::string_view(req.query).substr(4), true);
    if (!balancer.remove(url))
      throw ApiError(404, "no worker '" + url + "'", "invalid_request_error", "url", "worker_not_found");
    return HttpResponse::json(200, to_wire(Json{{"removed", url}}));
  };
  router.add("DELETE", "/workers", remove);
  router.add_prefix("DELETE", "/workers/", remove);
}

}  // namespace nagare
