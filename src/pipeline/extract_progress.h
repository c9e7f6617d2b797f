// Progress of `nagare extract`, step by step: on a terminal one status line per step, redrawn
// as items finish; otherwise plain log lines (every tenth of a step and its end), so a log file
// or CI output stays readable.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "pipeline/extract_report.h"

namespace nagare {

class ExtractProgress {
 public:
  // out null: silent. tty: redraw lines in place.
  ExtractProgress(std::FILE* out, bool tty) : out_(out), tty_(tty) {}

  void begin(const std::string& step, size_t total);
  void advance(size_t done, const std::string& detail);
  void end(const StepStats& stats, const std::string& detail);
  void note(const std::string& line);  // a warning or event worth a line of its own

 private:
  std::FILE* out_;
  bool tty_;
  std::string step_;
  size_t total_ = 0;
  size_t last_logged_ = 0;
  bool line_open_ = false;
};

}  // namespace nagare
