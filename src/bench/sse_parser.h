// Incremental Server-Sent Events parser: bytes arrive in arbitrary pieces (curl write callbacks)
// and complete events come out, per the WHATWG event-stream rules that OpenAI-style servers use.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace nagare::bench {

struct SseEvent {
  std::string event;  // the "event:" field; empty means "message"
  std::string data;   // "data:" lines joined with '\n'
  std::string id;
};

class SseParser {
 public:
  using Handler = std::function<void(const SseEvent&)>;
  explicit SseParser(Handler on_event) : on_event_(std::move(on_event)) {}

  // Feeds the next piece of the stream; calls the handler for every event it completes.
  void feed(std::string_view bytes);
  // End of stream: a final event without its blank line is still delivered (servers that close
  // right after "data: [DONE]\n" are common), as the spec allows a trailing line without EOL.
  void finish();

  // Lines and events so far: a body with lines but no events was not an event stream.
  size_t lines_seen() const { return lines_; }
  size_t events_seen() const { return events_; }

 private:
  void line(std::string_view l);
  void dispatch();

  Handler on_event_;
  std::string partial_;      // an incomplete line carried to the next feed
  bool last_was_cr_ = false; // "\r\n" split across two feeds must count as one line end
  bool bom_checked_ = false;
  SseEvent cur_;
  bool has_data_ = false;
  size_t lines_ = 0;
  size_t events_ = 0;
};

}  // namespace nagare::bench
