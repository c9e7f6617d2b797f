// AccessControl: API keys on every route but /health. A request needs `Authorization: Bearer KEY`
// (what the OpenAI and Ollama clients send): 401 without a known key, 403 for a model the key may
// not use (and for changing the store with a key limited to some models), 429 with Retry-After
// past the key's requests or tokens per minute. Errors take the API's own shape. Tokens are
// charged when a response ends, from its record. reload() (SIGHUP) re-reads the keys file.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ops/api_keys.h"
#include "server/router.h"

namespace nagare {

class AccessControl {
 public:
  // Throws Error when a key or the keys file is bad (the server then refuses to start).
  AccessControl(std::vector<std::string> keys, std::string keys_file);

  // Adds the check as middleware and the token charge as an observer. `router` must outlive
  // its use of this object (error responses are shaped by it).
  void install(Router& router);
  // Re-reads the keys file; a file that no longer parses keeps the keys in use (and says why).
  // Returns false then.
  bool reload();
  size_t keys() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Window {  // one key's last minute
    std::deque<Clock::time_point> requests;
    std::deque<std::pair<Clock::time_point, int64_t>> tokens;
    int64_t tokens_in_window = 0;
  };

  std::optional<HttpResponse> check(const Router& router, const HttpRequest& request);
  void charge(const RequestRecord& record);

  const std::vector<std::string> inline_keys_;
  const std::string keys_file_;
  mutable std::mutex mu_;
  std::shared_ptr<const KeyTable> table_;
  std::map<std::string, Window> windows_;  // by key id
};

}  // namespace nagare
