#include "balancer/balancer.h"

#include <algorithm>
#include <cstdio>

#include "balancer/routing_key.h"
#include "util/error.h"

namespace nagare {

std::optional<Policy> parse_policy(std::string_view name) {
  if (name == "cache-aware") return Policy::kCacheAware;
  if (name == "least-load") return Policy::kLeastLoad;
  if (name == "round-robin") return Policy::kRoundRobin;
  if (name == "random") return Policy::kRandom;
  return std::nullopt;
}

Balancer::Balancer(BalancerOptions options) : options_(options), tree_(options.tree_max_chars) {}

std::string Balancer::normalise(std::string_view url) {
  std::string u(url);
  if (u.find("://") == std::string::npos) u = "http://" + u;
  while (!u.empty() && u.back() == '/') u.pop_back();
  const bool http = u.starts_with("http://") || u.starts_with("https://");
  const size_t host = u.find("://") + 3;
  if (!http || host >= u.size() || u.find_first_of("/?#@ ", host) != std::string::npos)
    throw Error("a worker is http(s)://host:port, not '" + std::string(url) + "'");
  return u;
}

std::shared_ptr<Worker> Balancer::add(std::string_view url, std::string source) {
  const std::string u = normalise(url);
  std::lock_guard lk(mu_);
  for (const auto& w : workers_)
    if (w->url == u) return w;
  auto w = std::make_shared<Worker>(next_id_++, u, std::move(source));
  workers_.push_back(w);
  std::fprintf(stderr, "nagare: worker %s added (%s)\n", w->url.c_str(), w->source.c_str());
  return w;
}

bool Balancer::remove(std::string_view url) {
  std::string u;
  try {
    u = normalise(url);
  } catch (const Error&) {
    return false;
  }
  std::lock_guard lk(mu_);
  auto it = std::find_if(workers_.begin(), workers_.end(), [&](const auto& w) { return w->url == u; });
  if (it == workers_.end()) return false;
  tree_.remove_worker((*it)->id);
  std::fprintf(stderr, "nagare: worker %s removed\n", (*it)->url.c_str());
  workers_.erase(it);  // requests in flight to it hold their own reference
  return true;
}

std::vector<std::shared_ptr<Worker>> Balancer::workers() const {
  std::lock_guard lk(mu_);
  return workers_;
}

int Balancer::healthy_workers() const {
  std::lock_guard lk(mu_);
  return int(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return w->healthy.load(); }));
}

Balancer::Choice Balancer::choose(std::string_view key, const std::vector<int>& exclude) {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<Worker>> candidates;
  for (const auto& w : workers_)
    if (w->healthy.load() && std::find(exclude.begin(), exclude.end(), w->id) == exclude.end()) candidates.push_back(w);
  if (candidates.empty()) return {};
  // Least loaded; ties go round the workers, so an idle cluster still spreads new prefixes.
  auto least_loaded = [&] {
    const size_t start = size_t(round_robin_++ % candidates.size());
    std::shared_ptr<Worker> best;
    for (size_t i = 0; i < candidates.size(); ++i) {
      const auto& w = candidates[(start + i) % candidates.size()];
      if (!best || w->load() < best->load()) best = w;
    }
    return best;
  };
  switch (options_.policy) {
    case Policy::kRoundRobin: return {candidates[size_t(round_robin_++ % candidates.size())], false};
    case Policy::kRandom: return {candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng_)], false};
    case Policy::kLeastLoad: return {least_loaded(), false};
    case Policy::kCacheAware: break;
  }
  int lo = candidates[0]->load(), hi = lo;
  for (const auto& w : candidates) {
    lo = std::min(lo, w->load());
    hi = std::max(hi, w->load());
  }
  const bool imbalanced = hi - lo > options_.balance_abs && double(hi) > options_.balance_rel * double(lo);
  std::shared_ptr<Worker> chosen;
  bool hit = false;
  if (!imbalanced && !key.empty()) {
    // The longest match; among equal ones the least loaded.
    const std::map<int, size_t> matched = tree_.match(key);
    size_t best_len = 0;
    for (const auto& w : candidates) {
      auto it = matched.find(w->id);
      if (it == matched.end()) continue;
      if (it->second > best_len || (it->second == best_len && chosen && w->load() < chosen->load())) {
        best_len = it->second;
        chosen = w;
      }
    }
    hit = chosen && double(best_len) >= options_.cache_threshold * double(key.size());
    if (!hit) chosen = nullptr;
  }
  if (!chosen) chosen = least_loaded();
  if (hit) cache_hits_.fetch_add(1);
  if (!key.empty()) tree_.insert(key, chosen->id);
  return {chosen, hit};
}

void Balancer::remember(std::string_view text, const Worker& worker) {
  if (options_.policy != Policy::kCacheAware || text.empty()) return;
  std::lock_guard lk(mu_);
  tree_.insert(text.substr(0, std::min(text.size(), kMaxRoutingKey)), worker.id);
}

void Balancer::eject(Worker& w) {
  if (!w.healthy.exchange(false)) return;
  w.ejections.fetch_add(1);
  std::fprintf(stderr, "nagare: worker %s ejected\n", w.url.c_str());
  // Its cache is as good as gone if it restarts; forget what it held.
  std::lock_guard lk(mu_);
  tree_.remove_worker(w.id);
}

void Balancer::check_result(Worker& w, bool ok) {
  if (ok) {
    w.failed_checks.store(0);
    if (!w.healthy.exchange(true)) std::fprintf(stderr, "nagare: worker %s healthy again\n", w.url.c_str());
    return;
  }
  if (w.failed_checks.fetch_add(1) + 1 >= options_.health_failures) eject(w);
}

void Balancer::connect_failed(Worker& w) { eject(w); }

size_t Balancer::tree_chars() const {
  std::lock_guard lk(mu_);
  return tree_.chars();
}

}  // namespace nagare
