// ProxySource: one request passed on to a worker and its answer passed back, as a
// ResponseSource. The transfer runs on its own thread (libcurl); a streamed answer (SSE or
// NDJSON) reaches the client chunk by chunk as the worker writes it, nothing is buffered.
//  - The head (status, headers) goes to the client only once the worker has answered, so a
//    worker that cannot be reached, resets, or answers 502/503 before that is retried once on
//    another worker: the client never sees the failure.
//  - A worker that dies mid-stream ends the stream with an error event in the stream's own
//    format (an SSE `data: {"error": ...}`, an NDJSON `{"error": ...}` line), never a hang.
//  - A client that leaves cancels the transfer, and so the worker's request.
//  - For the cache-aware policy, a chat's answer is remembered with its request, so the next
//    turn of the conversation finds its whole history on the same worker.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "balancer/balancer.h"
#include "server/http_types.h"

namespace nagare {

struct ProxyRequest {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;  // passed on to the worker
  std::string key;  // routing key ("" when the request has none)
  bool chat = false;  // a chat request: its answer extends the key for the next turn
};

// Counts what the proxy did, for the router's /metrics.
struct ProxyStats {
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> failed_mid_stream{0};
  std::atomic<uint64_t> no_worker{0};
  // Transfers still running (threads): waited for before the balancer goes away.
  std::mutex mu;
  std::condition_variable idle;
  int running = 0;
  bool wait_idle(std::chrono::milliseconds timeout);
};

// Builds an error response in the API's own shape (the router's error formatter for the path).
using ErrorResponse = std::function<HttpResponse(int status, const std::string& message, const std::string& code)>;

class ProxySource : public ResponseSource {
 public:
  ProxySource(Balancer& balancer, ProxyStats& stats, ProxyRequest request, Balancer::Choice first,
              ErrorResponse error);
  ~ProxySource() override;
  void start(std::function<void()> wake) override;
  bool head(HttpResponse& meta) override;
  bool poll(std::string& out) override;
  void cancel() override;
  int status() const override;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace nagare
