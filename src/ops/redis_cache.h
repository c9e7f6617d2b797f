// RedisCacheBackend: the response cache in a Redis server (hiredis), so replicas share answers.
// Every operation has a short timeout and never throws: when Redis stops answering the cache
// degrades to none (each lookup a miss, each store dropped) with one warning, and comes back by
// itself once Redis answers again (a reconnect is tried at most once a second).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "api/response_cache.h"

struct redisContext;
struct redisReply;

namespace nagare {

class RedisCacheBackend : public CacheBackend {
 public:
  // `url`: redis://HOST[:PORT][/DB]. Throws Error for a malformed URL; a Redis that does not
  // answer yet is not an error (the cache starts degraded and says so).
  explicit RedisCacheBackend(const std::string& url,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(250));
  ~RedisCacheBackend() override;

  std::optional<std::string> get(const std::string& key) override;
  void put(const std::string& key, const std::string& value, std::chrono::seconds ttl) override;

 private:
  bool connected_locked();                     // connects if need be (rate-limited)
  // Runs a command; on a broken connection reconnects once and runs it again. nullptr: no reply.
  struct redisReply* run_locked(const std::function<void*(redisContext*)>& issue);
  void failed_locked(const std::string& why);  // drops the connection, warns once per outage

  std::string host_;
  int port_ = 6379;
  int db_ = 0;
  std::chrono::milliseconds timeout_;
  std::mutex mu_;
  redisContext* ctx_ = nullptr;
  std::chrono::steady_clock::time_point next_try_{};
  bool degraded_ = false;
};

}  // namespace nagare
