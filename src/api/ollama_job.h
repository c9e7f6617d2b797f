// OllamaJob: one /api/generate or /api/chat request in flight -- its engine request and the bytes
// the client gets back: NDJSON objects as tokens arrive (Ollama's default), or one JSON object at
// the end. Transport-agnostic, like CompletionJob: the server calls poll() when notified.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/ollama_request.h"
#include "api/request_record.h"
#include "api/response_cache.h"
#include "api/served_model.h"

namespace nagare {

class OllamaJob {
 public:
  // Builds the prompt (chat template unless raw) and submits it; throws ApiError (400) for a
  // prompt the template or the engine rejects. `load_ns` is how long loading the model took for
  // this request (0 when it was loaded already). With a `cache`, a deterministic request
  // (temperature 0 or a seed) is answered from it when it can be, and stored once answered.
  OllamaJob(const ServedModel& model, OllamaRequest request, int64_t load_ns = 0, ResponseCache* cache = nullptr);
  ~OllamaJob();  // cancels the engine request if it still runs
  OllamaJob(const OllamaJob&) = delete;
  OllamaJob& operator=(const OllamaJob&) = delete;

  void set_notify(const std::function<void()>& notify);
  // Streaming: appends the NDJSON lines ready now; otherwise the whole body once done. Returns
  // true when the response is complete.
  bool poll(std::string& out);
  void cancel();

  bool streaming() const { return request_.stream; }
  int status() const { return status_; }
  // "hit", "miss" or "" (see CompletionJob::cache_status).
  const std::string& cache_status() const { return cache_status_; }
  // Token counts, finish reason, timings and the answer's text (also partway, after cancel()).
  void report(RequestRecord& record) const;

 private:
  // One NDJSON object carrying new text (and tool calls, chat with tools).
  Json chunk(const std::string& text, const std::vector<ToolCall>& calls = {}) const;
  // done: true, with counts and durations.
  Json final_object(const std::string& text, const std::vector<ToolCall>& calls = {});

  const ServedModel& model_;
  OllamaRequest request_;
  std::string name_;  // as the client wrote it ("smollm2:latest")
  std::chrono::steady_clock::time_point start_;
  int64_t load_ns_;
  std::vector<int32_t> prompt_;
  std::shared_ptr<RequestStream> stream_;
  std::vector<TokenEvent> scratch_;
  std::vector<int32_t> generated_;
  std::string text_;  // the answer so far (streamed pieces too)
  ResponseCache* cache_ = nullptr;
  std::string cache_key_;              // set while the answer is to be stored
  std::string cache_status_;
  bool replay_ = false;                // answered from the cache: one stream chunk per token
  std::vector<TokenEvent> recorded_;
  ToolCallFormat tool_format_ = ToolCallFormat::kGeneric;  // chat with tools: how calls look
  std::optional<ToolCallStream> tool_stream_;               // streaming chat with tools   // the answer's events, for the cache
  bool complete_ = false;
  int status_ = 200;
};

// "2026-12-06T01:02:03.123456789Z": Ollama's created_at (RFC 3339, UTC, nanoseconds).
std::string rfc3339_now();

}  // namespace nagare
