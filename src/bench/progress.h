// Progress of a running level on stderr: a redrawn bar when stderr is a terminal, otherwise a
// plain line every few seconds (logs and CI stay readable). Output goes to a FILE* for tests.
#pragma once

#include <cstdio>
#include <string>

namespace nagare::bench {

class Progress {
 public:
  // tty: draw a bar with '\r'; otherwise print a line at most every `line_interval_s`.
  Progress(std::FILE* out, bool tty, double line_interval_s = 5.0);
  // Decides tty from isatty(fileno(out)); quiet prints nothing at all.
  static Progress for_stderr(bool quiet);

  // total_requests 0 means the level is bounded by duration_s instead.
  void begin(const std::string& label, long total_requests, double duration_s);
  void update(long done, long failed, long in_flight, double elapsed_s);
  void end(long done, long failed, double elapsed_s);
  void note(const std::string& line);  // a message that must not be overwritten by the bar

 private:
  void clear_bar();

  std::FILE* out_;
  bool tty_;
  bool quiet_ = false;
  double interval_;
  std::string label_;
  long total_ = 0;
  double duration_ = 0;
  double last_print_ = -1;
  bool bar_shown_ = false;
};

}  // namespace nagare::bench
