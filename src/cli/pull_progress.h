// How `nagare pull` (and `run`, when it pulls first) shows a download: a one-line bar redrawn
// with '\r' (bytes, speed, ETA) when stderr is a terminal, plain lines every few seconds
// otherwise, so logs stay readable.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "store/model_store.h"
#include "store/pull.h"

namespace nagare {

class PullProgressPrinter {
 public:
  explicit PullProgressPrinter(std::FILE* out = stderr);
  ~PullProgressPrinter();
  void operator()(const PullProgress& p);
  void finish();  // ends a bar line

 private:
  std::FILE* out_;
  bool tty_;
  bool bar_shown_ = false;
  PullProgress::Phase last_phase_ = PullProgress::Phase::kResolving;
  bool first_ = true;
  std::chrono::steady_clock::time_point last_line_{};
};

// Pulls `source` into `store` showing progress on stderr; prints one line on `summary` at the end.
PullResult pull_with_progress(ModelStore& store, const std::string& source, std::FILE* summary = stdout);

// "12 seconds ago", "3 days ago", as `ollama list` shows times.
std::string time_ago(int64_t unix_seconds);
// "4 minutes from now", as `ollama ps` shows when a model unloads.
std::string time_from_now(int64_t unix_seconds);

// The first 12 hex digits of a digest, as `ollama list` shows IDs.
std::string short_id(const std::string& digest);

}  // namespace nagare
