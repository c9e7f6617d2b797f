// Event-stream parsing per https://html.spec.whatwg.org/multipage/server-sent-events.html
#include "bench/sse_parser.h"

namespace nagare::bench {

void SseParser::feed(std::string_view bytes) {
  if (!bom_checked_) {
    // A UTF-8 BOM may open the stream; it can itself arrive split, so wait for 3 bytes.
    partial_.append(bytes);
    if (partial_.size() < 3 && std::string_view("\xEF\xBB\xBF").substr(0, partial_.size()) == partial_) return;
    bom_checked_ = true;
    std::string head = std::move(partial_);
    partial_.clear();
    if (head.compare(0, 3, "\xEF\xBB\xBF") == 0) head.erase(0, 3);
    feed(head);
    return;
  }
  size_t start = 0;
  if (last_was_cr_ && !bytes.empty() && bytes[0] == '\n') start = 1;  // the LF of a split CRLF
  last_was_cr_ = false;
  for (size_t i = start; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c != '\n' && c != '\r') continue;
    if (partial_.empty()) {
      line(bytes.substr(start, i - start));
    } else {
      partial_.append(bytes.substr(start, i - start));
      line(partial_);
      partial_.clear();
    }
    if (c == '\r') {
      if (i + 1 < bytes.size()) {
        if (bytes[i + 1] == '\n') ++i;
      } else {
        last_was_cr_ = true;
      }
    }
    start = i + 1;
  }
  partial_.append(bytes.substr(start));
}

void SseParser::finish() {
  if (!bom_checked_) {
    bom_checked_ = true;
    std::string head = std::move(partial_);
    partial_.clear();
    feed(head);
  }
  if (!partial_.empty()) {
    std::string last = std::move(partial_);
    partial_.clear();
    line(last);
  }
  dispatch();
}

void SseParser::line(std::string_view l) {
  ++lines_;
  if (l.empty()) {
    dispatch();
    return;
  }
  if (l[0] == ':') return;  // comment (keep-alive)
  std::string_view field = l, value;
  if (size_t colon = l.find(':'); colon != std::string_view::npos) {
    field = l.substr(0, colon);
    value = l.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) cur_.data += '\n';
    cur_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    cur_.event.assign(value);
  } else if (field == "id") {
    cur_.id.assign(value);
  }
  // "retry" and unknown fields are ignored, as the spec says.
}

void SseParser::dispatch() {
  if (has_data_) {
    ++events_;
    on_event_(cur_);
  }
  cur_.data.clear();
  cur_.event.clear();
  has_data_ = false;
}

}  // namespace nagare::bench
