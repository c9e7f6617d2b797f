#include "cli/pull_progress.h"

#include <unistd.h>

#include <cmath>
#include <ctime>

#include "store/file_util.h"

namespace nagare {
namespace {

constexpr auto kPlainLineInterval = std::chrono::seconds(5);
constexpr int kBarWidth = 24;

std::string eta(double seconds) {
  if (!(seconds >= 0) || seconds > 99 * 3600) return "--";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

std::string amounts(const PullProgress& p) {
  std::string s = format_bytes(p.done);
  if (p.total) s += "/" + format_bytes(p.total);
  s += "  " + format_bytes(uint64_t(p.bytes_per_second)) + "/s";
  if (p.total && p.bytes_per_second > 0) s += "  ETA " + eta(double(p.total - p.done) / p.bytes_per_second);
  return s;
}

}  // namespace

PullProgressPrinter::PullProgressPrinter(std::FILE* out) : out_(out), tty_(isatty(fileno(out)) != 0) {}

PullProgressPrinter::~PullProgressPrinter() { finish(); }

void PullProgressPrinter::finish() {
  if (bar_shown_) std::fputc('\n', out_);
  bar_shown_ = false;
  std::fflush(out_);
}

void PullProgressPrinter::operator()(const PullProgress& p) {
  using Phase = PullProgress::Phase;
  const bool new_phase = first_ || p.phase != last_phase_;
  first_ = false;
  last_phase_ = p.phase;
  if (p.phase != Phase::kDownloading) {
    if (!new_phase) return;
    finish();
    switch (p.phase) {
      case Phase::kResolving: std::fprintf(out_, "pulling %s\n", p.file.c_str()); break;
      case Phase::kWaiting: std::fprintf(out_, "waiting for another pull of %s to finish\n", p.file.c_str()); break;
      case Phase::kVerifying: std::fprintf(out_, "verifying %s\n", p.file.c_str()); break;
      default: break;
    }
    std::fflush(out_);
    return;
  }
  if (new_phase && p.resumed_from > 0 && !tty_)
    std::fprintf(out_, "resuming %s at %s\n", p.file.c_str(), format_bytes(p.resumed_from).c_str());
  if (tty_) {
    const double frac = p.total ? double(p.done) / double(p.total) : 0;
    const int filled = int(frac * kBarWidth);
    std::string bar(size_t(filled), '#');
    bar.resize(kBarWidth, '.');
    std::fprintf(out_, "\r%3d%% [%s] %s%s\x1b[K", int(frac * 100), bar.c_str(), amounts(p).c_str(),
                 p.resumed_from > 0 ? " (resumed)" : "");
    bar_shown_ = true;
    std::fflush(out_);
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!new_phase && now - last_line_ < kPlainLineInterval) return;
  last_line_ = now;
  std::string pct = p.total ? std::to_string(int(100.0 * double(p.done) / double(p.total))) + "% " : "";
  std::fprintf(out_, "downloading %s: %s%s\n", p.file.c_str(), pct.c_str(), amounts(p).c_str());
  std::fflush(out_);
}

PullResult pull_with_progress(ModelStore& store, const std::string& source, std::FILE* summary) {
  PullProgressPrinter printer;
  PullOptions o;
  o.progress = [&printer](const PullProgress& p) { printer(p); };
  PullResult r = pull_model(store, source, o);
  printer.finish();
  const auto& m = r.model;
  if (r.downloaded)
    std::fprintf(summary, "pulled %s (ID %s, %s)\n", m.name.display().c_str(), short_id(m.manifest.weights_digest).c_str(),
                format_bytes(m.manifest.weights_size).c_str());
  else
    std::fprintf(summary, "%s is up to date (ID %s, %s)\n", m.name.display().c_str(), short_id(m.manifest.weights_digest).c_str(),
                format_bytes(m.manifest.weights_size).c_str());
  std::fflush(summary);
  return r;
}

namespace {

// "3 minutes ago" / "3 minutes from now" for an interval of d >= 0 seconds.
std::string relative_time(int64_t d, const std::string& suffix, const char* now_text) {
  auto unit = [&](int64_t n, const char* one) { return std::to_string(n) + " " + one + (n == 1 ? "" : "s") + " " + suffix; };
  auto about = [&](const char* what) { return std::string("About ") + what + " " + suffix; };
  if (d < 1) return now_text;
  if (d < 60) return unit(d, "second");
  if (d < 3600) return d < 120 ? about("a minute") : unit(d / 60, "minute");
  if (d < 86400) return d < 7200 ? about("an hour") : unit(d / 3600, "hour");
  if (d < 7 * 86400) return unit(d / 86400, "day");
  if (d < 30 * 86400) return unit(d / (7 * 86400), "week");
  if (d < 365 * 86400) return unit(d / (30 * 86400), "month");
  return unit(d / (365 * 86400), "year");
}

}  // namespace

std::string time_ago(int64_t t) {
  return relative_time(int64_t(std::time(nullptr)) - t, "ago", "Less than a second ago");
}

std::string time_from_now(int64_t t) {
  return relative_time(t - int64_t(std::time(nullptr)), "from now", "Less than a second from now");
}

std::string short_id(const std::string& digest) {
  std::string hex = digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
  return hex.substr(0, 12);
}

}  // namespace nagare
