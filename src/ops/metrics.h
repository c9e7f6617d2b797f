// Metrics: GET /metrics in Prometheus' text format (version 0.0.4), names prefixed `nagare:` and
// taken from vLLM's where vLLM has one. Request outcomes, token counts and latency histograms come
// from each request's RequestRecord when its response ends; running and waiting requests, KV cache
// use, prefix-cache and preemption counters from the loaded engines when scraped. Every name and
// label is listed in docs/operations.md.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "api/model_registry.h"
#include "server/router.h"

namespace nagare {

class Metrics {
 public:
  Metrics() = default;

  // Adds GET /metrics, which reads `models` (it must outlive the router's handlers), and the
  // observer that counts every request (which does not: sessions ended as the server shuts
  // down still report).
  void install(Router& router, const ModelRegistry& models);
  void observe(const RequestRecord& record);
  // The exposition text, as /metrics answers it.
  std::string render(const ModelRegistry& models) const;

  // Counted by other parts (the audit log): rows it could not write.
  void count_audit_dropped(uint64_t rows);

  struct Histogram {
    explicit Histogram(std::vector<double> bounds) : bounds(std::move(bounds)), buckets(this->bounds.size() + 1) {}
    void observe(double v, uint64_t times = 1);
    std::vector<double> bounds;     // upper bounds, ascending; +Inf is implied
    std::vector<uint64_t> buckets;  // per bound (not cumulative); the last: above every bound
    double sum = 0;
    uint64_t count = 0;
  };

 private:
  struct PerModel {
    PerModel();
    Histogram ttft, itl, e2e, queue, prompt_len, generation_len;
    uint64_t prompt_tokens = 0, generation_tokens = 0, cached_tokens = 0;
    std::map<std::string, uint64_t> finished;  // by finish reason
    uint64_t cache_hits = 0, cache_misses = 0;
  };

  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> http_;  // (route, method, status)
  std::map<std::string, PerModel> per_model_;
  uint64_t audit_dropped_ = 0;
};

}  // namespace nagare
