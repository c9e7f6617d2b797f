// ResponseCache: answers of deterministic requests (temperature 0, or a fixed seed), kept so an
// identical request is answered without the engine. Exact match: the key is a sha256 over the
// model's identity, the endpoint, every prompt's token ids and every parameter that changes the
// output. What is kept is the engine's own output — each choice's token events, finish reason
// and counts — so a hit goes through the same formatting as a fresh answer (a streamed hit is a
// stream, one chunk per token). Greedy and seeded outputs do not depend on load (the engine is
// batch invariant), which is what makes replaying them correct.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/request.h"

namespace nagare {

// Where entries live: this process (LruCacheBackend) or a shared store (Redis, in ops/).
class CacheBackend {
 public:
  virtual ~CacheBackend() = default;
  // nullopt when absent or expired. Never throws: a backend that fails answers nullopt.
  virtual std::optional<std::string> get(const std::string& key) = 0;
  virtual void put(const std::string& key, const std::string& value, std::chrono::seconds ttl) = 0;
};

// In-process, least recently used first out past `max_bytes` (keys and values counted).
class LruCacheBackend : public CacheBackend {
 public:
  explicit LruCacheBackend(size_t max_bytes) : max_bytes_(max_bytes) {}
  std::optional<std::string> get(const std::string& key) override;
  void put(const std::string& key, const std::string& value, std::chrono::seconds ttl) override;
  size_t bytes() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string key, value;
    Clock::time_point expires;
  };
  void evict_locked();

  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
};

struct CachedChoice {
  std::vector<TokenEvent> events;
  FinishReason finish = FinishReason::kStop;
  RequestStats stats;
  // A finished stream holding these events, read by a job as if the engine had produced them.
  std::shared_ptr<RequestStream> replay() &&;
};

class ResponseCache {
 public:
  ResponseCache(std::unique_ptr<CacheBackend> backend, std::chrono::seconds ttl)
      : backend_(std::move(backend)), ttl_(ttl) {}

  // Whether a request's output is a function of its input: greedy, or a fixed seed.
  static bool deterministic(const GenerateRequest& g, bool seeded) { return g.sampling.greedy() || seeded; }
  // The key of a request: `model_id` names the weights, `endpoint` the output format, `choices`
  // are the engine requests exactly as submitted (prompt ids, sampling, limits, stops, logprobs).
  static std::string key(const std::string& model_id, const std::string& endpoint,
                         const std::vector<GenerateRequest>& choices);

  // The entry for `key` if there is a sound one with `n_choices` choices.
  std::optional<std::vector<CachedChoice>> get(const std::string& key, size_t n_choices);
  void put(const std::string& key, const std::vector<CachedChoice>& choices);

  // The stored form (JSON); decode() returns nullopt for anything it does not recognise.
  static std::string encode(const std::vector<CachedChoice>& choices);
  static std::optional<std::vector<CachedChoice>> decode(const std::string& text, size_t n_choices);

 private:
  std::unique_ptr<CacheBackend> backend_;
  std::chrono::seconds ttl_;
};

}  // namespace nagare
