#include "ops/metrics.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "ops/prometheus_text.h"

namespace nagare {
namespace {

constexpr const char* kVersion = "0.1.0";

// vLLM's buckets, with finer ones at the low end where CPU decoding lives.
std::vector<double> ttft_buckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0};
}
std::vector<double> itl_buckets() {
  return {0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0};
}
std::vector<double> latency_buckets() {
  return {0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0};
}
std::vector<double> token_buckets() {
  return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000};
}

std::string label(const char* key, const std::string& value) { return prometheus_label(key, value); }

// Methods outside the standard ones share one label value, so clients cannot grow the series.
std::string method_label(const std::string& m) {
  static const char* known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
  for (const char* k : known)
    if (m == k) return m;
  return "other";
}

// vLLM's finished_reason values: "stop", "length", "abort"; and "error" for a failed generation.
std::string finished_label(const std::string& reason) { return reason == "cancelled" || reason.empty() ? "abort" : reason; }

}  // namespace

void Metrics::Histogram::observe(double v, uint64_t times) {
  const size_t i = size_t(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
  buckets[i] += times;
  sum += v * double(times);
  count += times;
}

Metrics::PerModel::PerModel()
    : ttft(ttft_buckets()), itl(itl_buckets()), e2e(latency_buckets()), queue(latency_buckets()),
      prompt_len(token_buckets()), generation_len(token_buckets()) {}

void Metrics::install(Router& router, const ModelRegistry& models) {
  router.observe([this](const RequestRecord& r) { observe(r); });
  router.add("GET", "/metrics", [this, &models](const HttpRequest&) {
    HttpResponse r = HttpResponse::json(200, render(models));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });
}

void Metrics::count_audit_dropped(uint64_t rows) {
  std::lock_guard lk(mu_);
  audit_dropped_ += rows;
}

void Metrics::observe(const RequestRecord& r) {
  std::lock_guard lk(mu_);
  ++http_[{r.route.empty() ? "other" : r.route, method_label(r.method), r.status}];
  if (!r.generation) return;
  PerModel& m = per_model_[r.model];
  ++m.finished[finished_label(r.finish_reason)];
  if (r.cache == "miss") ++m.cache_misses;
  if (r.cache == "hit") {  // answered without the engine: not in the token and latency figures
    ++m.cache_hits;
    return;
  }
  m.prompt_tokens += uint64_t(std::max<int64_t>(0, r.prompt_tokens));
  m.generation_tokens += uint64_t(std::max<int64_t>(0, r.completion_tokens));
  m.cached_tokens += uint64_t(std::max<int64_t>(0, r.cached_tokens));
  m.prompt_len.observe(double(r.prompt_tokens));
  m.generation_len.observe(double(r.completion_tokens));
  m.e2e.observe(r.latency_s);
  if (r.queue_s >= 0) m.queue.observe(r.queue_s);
  if (r.ttft_s >= 0) m.ttft.observe(r.ttft_s);
  // The engine times the decode phase as a whole: each of its intervals counts as the mean.
  if (r.decode_s >= 0 && r.completion_tokens > 1)
    m.itl.observe(r.decode_s / double(r.completion_tokens - 1), uint64_t(r.completion_tokens - 1));
}

std::string Metrics::render(const ModelRegistry& models) const {
  PrometheusWriter w;
  const std::vector<LoadedModelInfo> loaded = models.loaded();
  struct Live {
    std::string name;
    EngineStats stats;
    uint64_t bytes;
  };
  std::vector<Live> live;
  for (const LoadedModelInfo& info : loaded)
    live.push_back({info.model->name(), info.model->engine().stats(), info.model->size_bytes()});

  w.family("nagare:num_requests_running", "gauge", "Requests decoding or prefilling in the engine.");
  for (const Live& l : live) w.sample("nagare:num_requests_running", label("model_name", l.name), l.stats.running);
  w.family("nagare:num_requests_waiting", "gauge", "Requests queued for the engine.");
  for (const Live& l : live) w.sample("nagare:num_requests_waiting", label("model_name", l.name), l.stats.waiting);
  w.family("nagare:kv_cache_usage_perc", "gauge", "Fraction of KV cache blocks held by live requests (1 = full).");
  for (const Live& l : live)
    w.sample("nagare:kv_cache_usage_perc", label("model_name", l.name),
             l.stats.kv_blocks_total > 0 ? double(l.stats.kv_blocks_in_use) / l.stats.kv_blocks_total : 0.0);
  w.family("nagare:kv_cache_cached_perc", "gauge", "Fraction of KV cache blocks free but kept for prefix reuse.");
  for (const Live& l : live)
    w.sample("nagare:kv_cache_cached_perc", label("model_name", l.name),
             l.stats.kv_blocks_total > 0 ? double(l.stats.kv_blocks_cached) / l.stats.kv_blocks_total : 0.0);
  w.family("nagare:prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache (since the model loaded).");
  for (const Live& l : live) w.sample("nagare:prefix_cache_queries_total", label("model_name", l.name), double(l.stats.prefix_cache_queries));
  w.family("nagare:prefix_cache_hits_total", "counter", "Prompt tokens served from the prefix cache (since the model loaded).");
  for (const Live& l : live)
    w.sample("nagare:prefix_cache_hits_total", label("model_name", l.name), double(l.stats.prefix_cache_hit_tokens));
  w.family("nagare:num_preemptions_total", "counter", "Requests preempted to free KV cache (since the model loaded).");
  for (const Live& l : live) w.sample("nagare:num_preemptions_total", label("model_name", l.name), double(l.stats.preemptions));
  w.family("nagare:spec_decode_num_draft_tokens_total", "counter",
           "Speculative draft tokens checked by the model (since the model loaded).");
  for (const Live& l : live)
    w.sample("nagare:spec_decode_num_draft_tokens_total", label("model_name", l.name), double(l.stats.draft_tokens));
  w.family("nagare:spec_decode_num_accepted_tokens_total", "counter",
           "Speculative draft tokens the output took (since the model loaded).");
  for (const Live& l : live)
    w.sample("nagare:spec_decode_num_accepted_tokens_total", label("model_name", l.name),
             double(l.stats.draft_accepted_tokens));
  w.family("nagare:model_memory_bytes", "gauge", "What each loaded model may hold: weights file plus KV cache.");
  for (const Live& l : live) w.sample("nagare:model_memory_bytes", label("model_name", l.name), double(l.bytes));
  w.family("nagare:loaded_models", "gauge", "Models loaded now.");
  w.sample("nagare:loaded_models", "", double(live.size()));

  std::lock_guard lk(mu_);
  w.family("nagare:request_success_total", "counter",
           "Generation requests finished, by reason: stop, length, abort (the client left), error.");
  for (const auto& [model, m] : per_model_)
    for (const auto& [reason, n] : m.finished)
      w.sample("nagare:request_success_total", label("model_name", model) + "," + label("finished_reason", reason), double(n));
  w.family("nagare:prompt_tokens_total", "counter", "Prompt tokens of finished generation requests.");
  for (const auto& [model, m] : per_model_) w.sample("nagare:prompt_tokens_total", label("model_name", model), double(m.prompt_tokens));
  w.family("nagare:generation_tokens_total", "counter", "Tokens generated by finished generation requests.");
  for (const auto& [model, m] : per_model_)
    w.sample("nagare:generation_tokens_total", label("model_name", model), double(m.generation_tokens));
  w.family("nagare:cached_prompt_tokens_total", "counter", "Prompt tokens of finished requests that the prefix cache served.");
  for (const auto& [model, m] : per_model_)
    w.sample("nagare:cached_prompt_tokens_total", label("model_name", model), double(m.cached_tokens));

  w.family("nagare:response_cache_queries_total", "counter", "Deterministic requests looked up in the response cache.");
  for (const auto& [model, m] : per_model_)
    w.sample("nagare:response_cache_queries_total", label("model_name", model), double(m.cache_hits + m.cache_misses));
  w.family("nagare:response_cache_hits_total", "counter", "Requests answered from the response cache.");
  for (const auto& [model, m] : per_model_)
    w.sample("nagare:response_cache_hits_total", label("model_name", model), double(m.cache_hits));

  struct H {
    const char* name;
    const char* help;
    Histogram PerModel::*h;
  };
  const H histograms[] = {
      {"nagare:time_to_first_token_seconds", "Time from arrival (queue included) to the first generated token.", &PerModel::ttft},
      {"nagare:inter_token_latency_seconds", "Time between generated tokens (each request's decode time over its tokens).", &PerModel::itl},
      {"nagare:e2e_request_latency_seconds", "Time from the request's arrival to its last byte sent.", &PerModel::e2e},
      {"nagare:request_queue_time_seconds", "Time a request waited for the engine.", &PerModel::queue},
      {"nagare:request_prompt_tokens", "Prompt length of finished requests, in tokens.", &PerModel::prompt_len},
      {"nagare:request_generation_tokens", "Generated length of finished requests, in tokens.", &PerModel::generation_len},
  };
  for (const H& h : histograms) {
    w.family(h.name, "histogram", h.help);
    for (const auto& [model, m] : per_model_) {
      const Histogram& x = m.*(h.h);
      w.histogram(h.name, label("model_name", model), x.bounds, x.buckets, x.sum, x.count);
    }
  }

  w.family("nagare:http_requests_total", "counter", "HTTP requests answered, by route pattern, method and status.");
  for (const auto& [key, n] : http_) {
    const auto& [route, method, status] = key;
    w.sample("nagare:http_requests_total",
             label("route", route) + "," + label("method", method) + "," + label("status", std::to_string(status)), double(n));
  }
  w.family("nagare:audit_rows_dropped_total", "counter", "Audit log rows that could not be written.");
  w.sample("nagare:audit_rows_dropped_total", "", double(audit_dropped_));
  w.family("nagare:build_info", "gauge", "nagare's version (always 1).");
  w.sample("nagare:build_info", label("version", kVersion), 1);
  return w.take();
}

}  // namespace nagare
