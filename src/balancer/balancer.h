// Balancer: the set of workers (nagare serve replicas, or any server of the same API) and the
// choice of one for each request. Policies:
//  - cache-aware (default): the worker that was sent the longest prefix of the request's
//    routing key (routing_key.h), when that prefix is at least cache_threshold of the key and
//    the load is balanced; otherwise the least loaded. Load is balanced unless the most and
//    least loaded workers differ by more than balance_abs requests AND the most loaded has more
//    than balance_rel times the least's (SGLang's rule), so a hot prefix cannot pile everything
//    on one worker.
//  - least-load, round-robin, random.
// A worker's load is its requests in flight through this router, or what its /metrics says it
// is running and queueing when that is more (other clients use it too). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/prefix_tree.h"

namespace nagare {

enum class Policy { kCacheAware, kLeastLoad, kRoundRobin, kRandom };
// "cache-aware", "least-load", "round-robin", "random"; nullopt for anything else.
std::optional<Policy> parse_policy(std::string_view name);

struct BalancerOptions {
  Policy policy = Policy::kCacheAware;
  double cache_threshold = 0.5;
  int balance_abs = 6;
  double balance_rel = 1.5;
  size_t tree_max_chars = size_t(64) << 20;
  int health_failures = 2;  // failed checks in a row that eject a worker
};

struct Worker {
  Worker(int id, std::string url, std::string source) : id(id), url(std::move(url)), source(std::move(source)) {}
  const int id;
  const std::string url;     // "http://host:port", no trailing slash
  const std::string source;  // who added it: "flag", "api", "file", "dns:NAME:PORT"
  std::atomic<int> in_flight{0};
  std::atomic<int> reported_load{-1};   // running + waiting from its /metrics; -1: not known
  std::atomic<bool> healthy{true};
  std::atomic<int> failed_checks{0};
  std::atomic<uint64_t> requests{0};    // sent to it (retries included)
  std::atomic<uint64_t> ejections{0};

  int load() const { return std::max(in_flight.load(), reported_load.load()); }
};

class Balancer {
 public:
  explicit Balancer(BalancerOptions options);

  const BalancerOptions& options() const { return options_; }
  // Adds a worker (its URL normalised: scheme added, trailing slash dropped); returns the one
  // already there for that URL. Throws Error for a URL that is not http(s)://host:port.
  std::shared_ptr<Worker> add(std::string_view url, std::string source);
  bool remove(std::string_view url);
  std::vector<std::shared_ptr<Worker>> workers() const;
  int healthy_workers() const;

  struct Choice {
    std::shared_ptr<Worker> worker;  // null: no healthy worker (besides those excluded)
    bool cache_hit = false;          // chosen for its cached prefix
  };
  // A worker for a request with this routing key ("" for a request without one: least load),
  // other than those in `exclude` (ids already tried).
  Choice choose(std::string_view key, const std::vector<int>& exclude = {});
  // The worker was sent `text` (a request's key followed by its answer): the next turn of that
  // conversation starts with it.
  void remember(std::string_view text, const Worker& worker);

  // Health: a check's result, or a request that could not connect (ejected at once).
  void check_result(Worker& w, bool ok);
  void connect_failed(Worker& w);

  uint64_t cache_hits() const { return cache_hits_.load(); }
  size_t tree_chars() const;

 private:
  static std::string normalise(std::string_view url);
  void eject(Worker& w);

  BalancerOptions options_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Worker>> workers_;
  int next_id_ = 0;
  PrefixTree tree_;
  uint64_t round_robin_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  std::atomic<uint64_t> cache_hits_{0};
};

}  // namespace nagare
