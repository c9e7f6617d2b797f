// StopMatcher: finds stop strings in streamed text. It holds back any tail that could still grow
// into a stop string, so nothing of a stop string is ever emitted, and on a match it yields the
// text before the stop (the stop itself excluded, as OpenAI does).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nagare {

class StopMatcher {
 public:
  // Empty strings are ignored (they would match before any text). No stops: text passes through.
  explicit StopMatcher(std::vector<std::string> stops = {});

  // Appends to `out` the text now safe to emit. Returns true once a stop string has matched;
  // `out` then ends just before it, and later pushes add nothing. When two stops complete at
  // the same point of the text the one that starts earlier (the longer) wins; the first to
  // complete always wins, so the result does not depend on how the text was split into pushes.
  bool push(std::string_view text, std::string& out);

  // End of generation without a stop: appends the held-back text.
  void finish(std::string& out);

  bool stopped() const { return matched_ >= 0; }
  // Index into the constructor's list of the stop that matched, or -1.
  int matched_index() const { return matched_; }
  std::string_view matched_stop() const {
    return matched_ >= 0 ? std::string_view(stops_[static_cast<size_t>(matched_)]) : std::string_view();
  }
  std::string_view held() const { return held_; }  // text waiting for more input
  void reset() {
    held_.clear();
    matched_ = -1;
  }

 private:
  std::vector<std::string> stops_;  // as given (indices are reported)
  size_t max_len_ = 0;              // longest non-empty stop
  std::string held_;
  int matched_ = -1;
};

}  // namespace nagare
