#include "bench/progress.h"

#include <unistd.h>

#include <algorithm>

namespace nagare::bench {

Progress::Progress(std::FILE* out, bool tty, double line_interval_s) : out_(out), tty_(tty), interval_(line_interval_s) {}

Progress Progress::for_stderr(bool quiet) {
  Progress p(stderr, isatty(fileno(stderr)) != 0);
  p.quiet_ = quiet;
  return p;
}

void Progress::begin(const std::string& label, long total_requests, double duration_s) {
  label_ = label;
  total_ = total_requests;
  duration_ = duration_s;
  last_print_ = -1;
  if (quiet_) return;
  if (!tty_) {
    std::fprintf(out_, "bench: %s: started\n", label_.c_str());
    std::fflush(out_);
  }
}

void Progress::clear_bar() {
  if (bar_shown_) {
    std::fprintf(out_, "\r\033[K");
    bar_shown_ = false;
  }
}

void Progress::update(long done, long failed, long in_flight, double elapsed_s) {
  if (quiet_) return;
  if (tty_) {
    if (last_print_ >= 0 && elapsed_s - last_print_ < 0.1) return;
    last_print_ = elapsed_s;
    double frac = total_ > 0 ? double(done) / double(total_) : duration_ > 0 ? elapsed_s / duration_ : 0;
    frac = std::clamp(frac, 0.0, 1.0);
    constexpr int kWidth = 30;
    int filled = int(frac * kWidth);
    std::string bar(size_t(filled), '=');
    if (filled < kWidth) bar += '>' + std::string(size_t(kWidth - filled - 1), ' ');
    std::string count = total_ > 0 ? std::to_string(done) + "/" + std::to_string(total_) : std::to_string(done);
    std::fprintf(out_, "\r\033[K%s [%s] %s done, %ld failed, %ld in flight, %.1fs", label_.c_str(), bar.c_str(),
                 count.c_str(), failed, in_flight, elapsed_s);
    bar_shown_ = true;
  } else {
    if (elapsed_s - (last_print_ < 0 ? 0 : last_print_) < interval_) return;
    last_print_ = elapsed_s;
    std::string count = total_ > 0 ? std::to_string(done) + "/" + std::to_string(total_) : std::to_string(done);
    std::fprintf(out_, "bench: %s: %s done, %ld failed, %ld in flight, %.1fs\n", label_.c_str(), count.c_str(), failed,
                 in_flight, elapsed_s);
  }
  std::fflush(out_);
}

void Progress::end(long done, long failed, double elapsed_s) {
  if (quiet_) return;
  clear_bar();
  std::fprintf(out_, "bench: %s: %ld done, %ld failed in %.2fs\n", label_.c_str(), done, failed, elapsed_s);
  std::fflush(out_);
}

void Progress::note(const std::string& line) {
  if (quiet_) return;
  clear_bar();
  std::fprintf(out_, "bench: %s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace nagare::bench
