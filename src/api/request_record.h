// RequestRecord: what is known about one HTTP request once its response has ended — filled by
// the HTTP session (method, path, client, times, status), the key check (user) and the API
// handlers and jobs (model, token counts, finish reason, timings, texts), then handed to the
// router's observers: metrics, the audit log, per-key token limits. Written and read only on the
// request's connection strand, one step after another, so it needs no lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/request.h"

namespace nagare {

struct RequestRecord {
  // The session.
  std::string method, path, remote;
  std::chrono::system_clock::time_point received_at;  // wall clock, for logs
  std::chrono::steady_clock::time_point started;      // for durations
  double latency_s = 0;                                // until the last byte was written (or the end)
  int status = 0;                                      // the HTTP status sent
  bool client_gone = false;                            // the client left before the end
  // The key check.
  std::string user;     // the key's user, else the request's own "user" field, else ""
  std::string key_id;   // a short, non-secret label of the key used ("" without keys)
  std::vector<std::string> allowed_models;  // the key's models (canonical names); empty: all
  // The API.
  std::string route;    // the route's pattern ("/v1/chat/completions", "/v1/models/"), "" when none matched
  std::string api;      // "openai" or "ollama" for generation requests, else ""
  std::string model;
  bool stream = false;
  std::string request_text;   // what was asked: the messages or prompt, as the client sent them (JSON)
  std::string response_text;  // what was answered (choices beyond the first as a JSON list)
  bool generation = false;    // a completion or chat that reached the engine
  int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
  std::string finish_reason;  // "stop", "length", "cancelled", "error"; "" when none
  std::string cache;          // the response cache: "hit", "miss" (stored once answered), "" (not cacheable)
  double queue_s = -1, ttft_s = -1, decode_s = -1;  // engine timings of the first choice; -1: unknown

  // Whether the request's key may use `model` (any spelling of its name); true without keys.
  bool may_use(std::string_view model) const;
};

// One spelling per model: "smollm2", "library/smollm2" and "smollm2:latest" are all
// "smollm2:latest"; a name that does not parse as a store name stays as it is.
std::string canonical_model_name(std::string_view name);

// "stop", "length", "cancelled", "error" ("cancelled" too for a request still running).
inline const char* finish_reason_name(FinishReason f) {
  switch (f) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kError: return "error";
    case FinishReason::kTimeout: return "timeout";
    default: return "cancelled";
  }
}

// The engine's timings of one generation, in seconds (TTFT counts the time queued).
inline void record_timings(RequestRecord& r, const RequestStats& s) {
  r.queue_s = s.queued_ms / 1000;
  r.ttft_s = s.completion_tokens > 0 ? (s.queued_ms + s.prefill_ms) / 1000 : -1;
  r.decode_s = s.decode_ms / 1000;
}

}  // namespace nagare
