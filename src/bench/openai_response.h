// Turns one HTTP response of an OpenAI-compatible server (streamed SSE chunks or one JSON body)
// into a RequestRecord: content-chunk timings, the server's usage counts, or why it failed.
// Fed by the curl callbacks but independent of curl, so split-chunk behaviour is unit-tested.
#pragma once

#include <string>
#include <string_view>

#include "bench/metrics.h"
#include "bench/sse_parser.h"
#include "bench/workload.h"

namespace nagare::bench {

class OpenAiResponse {
 public:
  OpenAiResponse(Endpoint endpoint, bool stream);

  // Bytes of the body as they arrive; `now_s` is the arrival time on the level's steady clock.
  void on_data(std::string_view bytes, double now_s);

  // Ends the response. transport_error is empty when the transfer completed (curl's view);
  // http_status 0 when no status line came. start_s/end_s bound the request.
  RequestRecord finish(long http_status, const std::string& transport_error, double start_s, double end_s);

  size_t body_bytes() const { return body_bytes_; }

 private:
  void on_event(const SseEvent& e);
  void on_json(const nlohmann::json& j, bool chunk);
  void content(size_t n_chars);
  void protocol_error(std::string what);
  // Completes parsing; the reason the request failed, or empty.
  std::string failure(long http_status, const std::string& transport_error);

  Endpoint endpoint_;
  bool stream_;
  SseParser sse_;
  std::string head_;  // the first bytes of the body, for error messages
  std::string body_;  // the whole body, non-streamed responses only
  size_t body_bytes_ = 0;
  double now_s_ = 0;
  double first_s_ = -1, last_s_ = -1;
  RequestRecord rec_;
  std::string error_;  // the first protocol error seen
  bool done_ = false;  // "data: [DONE]"
  bool saw_choices_ = false;
};

// A short, single-line excerpt of a body for messages (control characters escaped).
std::string excerpt(std::string_view s, size_t max_chars = 120);

}  // namespace nagare::bench
