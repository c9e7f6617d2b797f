#include "pipeline/page_text.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

#include "pipeline/charset.h"
#include "pipeline/html_to_markdown.h"
#include "util/ascii.h"

extern char** environ;

namespace nagare {
namespace {

constexpr int kPdfTimeoutMs = 60'000;
constexpr size_t kPdfMaxText = 64u << 20;

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string_view skip_space(std::string_view s) {
  if (starts_with(s, "\xEF\xBB\xBF")) s.remove_prefix(3);
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n' || s[0] == '\f')) s.remove_prefix(1);
  return s;
}

bool blank(std::string_view s) { return skip_space(s).find_first_not_of(" \t\r\n\f\v") == std::string_view::npos; }

bool binary_type(std::string_view type) {
  for (std::string_view p : {"image/", "audio/", "video/", "font/", "model/"})
    if (starts_with(type, p)) return true;
  return type == "application/octet-stream" || type == "application/zip" || type == "application/gzip";
}

std::string markdown_title(std::string_view text) {
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (starts_with(line, "# ")) {
      line.remove_prefix(2);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      return std::string(line);
    }
    start = end + 1;
  }
  return "";
}

// Closes a file descriptor once, however the function leaves.
struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// pdftotext -layout -enc UTF-8 - -, fed on stdin and read on stdout at once (a large PDF fills
// a pipe both ways). Sockets rather than pipes: send() with MSG_NOSIGNAL cannot raise SIGPIPE
// when pdftotext exits before reading everything. Returns "" or why there is no text.
std::string run_pdftotext(const std::string& pdf, std::string& text) {
  int in[2], out[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) return "PDF: cannot start pdftotext";
  Fd in_parent{in[0]}, in_child{in[1]};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0) return "PDF: cannot start pdftotext";
  Fd out_parent{out[0]}, out_child{out[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_child.fd, 0);  // dup2 clears close-on-exec
  posix_spawn_file_actions_adddup2(&actions, out_child.fd, 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const char* argv[] = {"pdftotext", "-layout", "-enc", "UTF-8", "-", "-", nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "pdftotext", &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == ENOENT) return "PDF: pdftotext not installed (Debian: apt install poppler-utils)";
  if (rc != 0) return "PDF: cannot start pdftotext (" + std::string(std::strerror(rc)) + ")";
  in_child.reset();
  out_child.reset();

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kPdfTimeoutMs);
  size_t sent = 0;
  bool timed_out = false, too_long = false;
  char buf[65536];
  while (out_parent.fd >= 0) {
    pollfd fds[2] = {{out_parent.fd, POLLIN, 0}, {in_parent.fd, POLLOUT, 0}};
    const int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      timed_out = true;
      break;
    }
    if (::poll(fds, in_parent.fd >= 0 ? 2 : 1, left) < 0 && errno != EINTR) break;
    if (in_parent.fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::send(in_parent.fd, pdf.data() + sent, pdf.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += size_t(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == pdf.size()) in_parent.reset();  // EOF for pdftotext
    }
    if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
      const ssize_t n = ::recv(out_parent.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        text.append(buf, size_t(n));
        if (text.size() > kPdfMaxText) {
          too_long = true;
          break;
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_parent.reset();
      }
    }
  }
  if (timed_out || too_long) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return "PDF: pdftotext took over " + std::to_string(kPdfTimeoutMs / 1000) + " s";
  if (too_long) return "PDF: over " + std::to_string(kPdfMaxText >> 20) + " MiB of text";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "PDF: pdftotext could not read it (damaged or encrypted?)";
  return "";
}

}  // namespace

std::string sniff_media_type(std::string_view body) {
  if (starts_with(body, "%PDF-")) return "application/pdf";
  const std::string_view start = skip_space(body);
  if (!start.empty() && start[0] == '<') {
    std::string head(start.substr(0, 64 * 1024));
    for (char& c : head) c = ascii_lower(c);
    if (head.find("<html") != std::string::npos || head.find("<body") != std::string::npos ||
        head.find("<p") != std::string::npos)
      return "text/html";
  }
  if (body.substr(0, 1024).find('\0') != std::string_view::npos) return "application/octet-stream";
  return "text/plain";
}

PageText page_text(const FetchedPage& page) {
  PageText t;
  t.url = page.final_url.empty() ? page.url : page.final_url;
  if (!page.ok()) {
    t.skipped = "not fetched: " + page.error;
    return t;
  }
  std::string type = page.content_type;
  const bool said = !type.empty() && type != "application/octet-stream";
  if (!said) type = sniff_media_type(page.body);
  try {
    if (type == "text/html" || type == "application/xhtml+xml") {
      MarkdownPage m = html_to_markdown(to_utf8(page.body, detect_charset(page.charset_header, page.body)), t.url);
      t.title = std::move(m.title);
      t.markdown = std::move(m.markdown);
    } else if (type == "text/plain" || type == "text/markdown" || type == "text/x-markdown") {
      t.markdown = to_utf8(page.body, detect_charset(page.charset_header, page.body));
      if (type != "text/plain") t.title = markdown_title(t.markdown);
    } else if (type == "application/pdf") {
      t.skipped = run_pdftotext(page.body, t.markdown);
      if (!t.skipped.empty()) t.markdown.clear();
    } else if (binary_type(type)) {
      t.skipped = "binary content (" + (said ? type : "no text type given, and NUL bytes in it") + ")";
    } else {
      t.skipped = "unsupported content type (" + type + ")";
    }
  } catch (const std::exception& e) {
    t.markdown.clear();
    t.skipped = std::string("could not convert the page: ") + e.what();
  }
  if (t.skipped.empty() && blank(t.markdown)) t.skipped = "no text content";
  return t;
}

}  // namespace nagare
