#include "ops/redis_cache.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cstdio>

#include "util/error.h"

namespace nagare {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = ms.count() / 1000;
  tv.tv_usec = (ms.count() % 1000) * 1000;
  return tv;
}

}  // namespace

RedisCacheBackend::RedisCacheBackend(const std::string& url, std::chrono::milliseconds timeout) : timeout_(timeout) {
  const std::string prefix = "redis://";
  auto bad = [&] { return Error("--cache: '" + url + "' is not redis://HOST[:PORT][/DB]"); };
  if (url.rfind(prefix, 0) != 0) throw bad();
  std::string rest = url.substr(prefix.size());
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    rest.resize(slash);
    if (!db.empty()) {
      try {
        size_t used = 0;
        db_ = std::stoi(db, &used);
        if (used != db.size() || db_ < 0) throw bad();
      } catch (const std::logic_error&) {
        throw bad();
      }
    }
  }
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    try {
      size_t used = 0;
      port_ = std::stoi(rest.substr(colon + 1), &used);
      if (used != rest.size() - colon - 1 || port_ <= 0 || port_ > 65535) throw bad();
    } catch (const std::logic_error&) {
      throw bad();
    }
    rest.resize(colon);
  }
  if (rest.empty()) throw bad();
  host_ = rest;
  std::lock_guard lk(mu_);
  connected_locked();
}

RedisCacheBackend::~RedisCacheBackend() {
  if (ctx_) redisFree(ctx_);
}

void RedisCacheBackend::failed_locked(const std::string& why) {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
  next_try_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  if (!degraded_)
    std::fprintf(stderr, "nagare: response cache: redis %s:%d: %s; answering without the cache until it is back\n",
                 host_.c_str(), port_, why.c_str());
  degraded_ = true;
}

bool RedisCacheBackend::connected_locked() {
  if (ctx_) return true;
  if (std::chrono::steady_clock::now() < next_try_) return false;
  ctx_ = redisConnectWithTimeout(host_.c_str(), port_, to_timeval(timeout_));
  if (!ctx_ || ctx_->err) {
    failed_locked(ctx_ ? ctx_->errstr : "cannot allocate a connection");
    return false;
  }
  redisSetTimeout(ctx_, to_timeval(timeout_));
  if (db_ != 0) {
    auto* r = static_cast<redisReply*>(redisCommand(ctx_, "SELECT %d", db_));
    const bool ok = r && r->type == REDIS_REPLY_STATUS;
    const std::string why = r && r->type == REDIS_REPLY_ERROR ? r->str : "no answer to SELECT";
    if (r) freeReplyObject(r);
    if (!ok) {
      failed_locked(why);
      return false;
    }
  }
  if (degraded_) std::fprintf(stderr, "nagare: response cache: redis %s:%d answers again\n", host_.c_str(), port_);
  degraded_ = false;
  return true;
}

redisReply* RedisCacheBackend::run_locked(const std::function<void*(redisContext*)>& issue) {
  if (!connected_locked()) return nullptr;
  if (auto* r = static_cast<redisReply*>(issue(ctx_))) return r;
  // The connection broke (Redis restarted, or a timeout): one fresh connection at once.
  redisFree(ctx_);
  ctx_ = nullptr;
  next_try_ = {};
  if (!connected_locked()) return nullptr;
  auto* r = static_cast<redisReply*>(issue(ctx_));
  if (!r) failed_locked(ctx_->errstr);
  return r;
}

std::optional<std::string> RedisCacheBackend::get(const std::string& key) {
  std::lock_guard lk(mu_);
  redisReply* r = run_locked([&](redisContext* c) { return redisCommand(c, "GET %b", key.data(), key.size()); });
  if (!r) return std::nullopt;
  std::optional<std::string> out;
  if (r->type == REDIS_REPLY_STRING) out.emplace(r->str, r->len);
  freeReplyObject(r);
  return out;
}

void RedisCacheBackend::put(const std::string& key, const std::string& value, std::chrono::seconds ttl) {
  std::lock_guard lk(mu_);
  redisReply* r = run_locked([&](redisContext* c) {
    return redisCommand(c, "SET %b %b EX %lld", key.data(), key.size(), value.data(), value.size(),
                        static_cast<long long>(ttl.count()));
  });
  if (r) freeReplyObject(r);
}

}  // namespace nagare
