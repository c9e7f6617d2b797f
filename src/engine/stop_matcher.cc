// StopMatcher. Invariant: held_ is the longest suffix of the text seen so far that is a proper
// prefix of some stop string; everything before it was emitted and can never be part of a match.
#include "engine/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace nagare {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const std::string& s : stops_) max_len_ = std::max(max_len_, s.size());
  held_.reserve(2 * max_len_ + 64);
}

bool StopMatcher::push(std::string_view text, std::string& out) {
  if (matched_ >= 0) return true;
  if (max_len_ == 0) {
    out.append(text);
    return false;
  }
  const size_t old_len = held_.size();
  held_.append(text);
  const std::string_view h(held_);

  // The earliest end position at which a stop completes; held_[0, old_len) holds no complete
  // stop, so only ends inside the new text are checked.
  for (size_t end = old_len + 1; end <= h.size(); ++end) {
    int best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < stops_.size(); ++i) {
      const std::string& s = stops_[i];
      if (s.empty() || s.size() > end || s.size() <= best_len) continue;
      if (h.compare(end - s.size(), s.size(), s) == 0) {
        best = static_cast<int>(i);
        best_len = s.size();
      }
    }
    if (best >= 0) {
      out.append(h.substr(0, end - best_len));
      matched_ = best;
      held_.clear();
      return true;
    }
  }

  // Hold back the longest suffix that could still become a stop string.
  size_t keep = 0;
  const size_t max_keep = std::min(h.size(), max_len_ - 1);
  for (size_t len = max_keep; len > 0 && keep == 0; --len) {
    const std::string_view tail = h.substr(h.size() - len);
    for (const std::string& s : stops_) {
      if (s.size() > len && s.compare(0, len, tail) == 0) {
        keep = len;
        break;
      }
    }
  }
  out.append(h.substr(0, h.size() - keep));
  held_.erase(0, h.size() - keep);
  return false;
}

void StopMatcher::finish(std::string& out) {
  if (matched_ < 0) out.append(held_);
  held_.clear();
}

}  // namespace nagare
