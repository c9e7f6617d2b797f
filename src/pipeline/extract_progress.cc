#include "pipeline/extract_progress.h"

#include <algorithm>

namespace nagare {

void ExtractProgress::begin(const std::string& step, size_t total) {
  step_ = step;
  total_ = total;
  last_logged_ = 0;
  if (!out_) return;
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s: 0/%zu", step.c_str(), total);
    line_open_ = true;
  } else {
    std::fprintf(out_, "%s: %zu to do\n", step.c_str(), total);
  }
  std::fflush(out_);
}

void ExtractProgress::advance(size_t done, const std::string& detail) {
  if (!out_) return;
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s: %zu/%zu%s%s", step_.c_str(), done, total_, detail.empty() ? "" : "  ", detail.c_str());
    line_open_ = true;
  } else {
    const size_t every = std::max<size_t>(1, total_ / 10);
    if (done < last_logged_ + every && done != total_) return;
    last_logged_ = done;
    std::fprintf(out_, "%s: %zu/%zu%s%s\n", step_.c_str(), done, total_, detail.empty() ? "" : "  ", detail.c_str());
  }
  std::fflush(out_);
}

void ExtractProgress::end(const StepStats& s, const std::string& detail) {
  if (!out_) return;
  std::fprintf(out_, "%s%s: done in %.2f s, %d item(s)%s%s%s\n", tty_ && line_open_ ? "\r\033[K" : "", s.name.c_str(),
               s.ms / 1000, s.items, s.failures ? (", " + std::to_string(s.failures) + " failed").c_str() : "",
               detail.empty() ? "" : ", ", detail.c_str());
  line_open_ = false;
  std::fflush(out_);
}

void ExtractProgress::note(const std::string& line) {
  if (!out_) return;
  std::fprintf(out_, "%s  %s\n", tty_ && line_open_ ? "\r\033[K" : "", line.c_str());
  line_open_ = false;
  std::fflush(out_);
}

}  // namespace nagare
