// A small web site on a loopback port for the fetcher tests: a page, redirects (one, a loop,
// to another site, to ftp:), a 404, a slow page, bodies over a size limit, a Shift_JIS page,
// plain text, a PNG, a robots.txt the test sets, a header echo, and pages that hold a while so
// the test can see how many requests were in progress at once. One thread per connection, one
// request per connection; a request log per path.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace nagare::testing {

class LoopbackSite {
 public:
  static constexpr const char* kPageHtml =
      "<!DOCTYPE html><html><head><title>Loopback page</title></head>"
      "<body><h1>Hello</h1><p>The loopback site says hello.</p></body></html>";
  // "日本語のページ" in Shift_JIS, inside <p>.
  static std::string shift_jis_html() {
    return "<html><head><title>sjis</title></head><body><p>"
           "\x93\xfa\x96\x7b\x8c\xea\x82\xcc\x83\x79\x81\x5b\x83\x57"
           "</p></body></html>";
  }

  LoopbackSite() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error("loopback site: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~LoopbackSite() { stop(); }

  // Closes the port and waits for the connections in progress (a slow page ends at once).
  void stop() {
    if (stopping_.exchange(true)) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      cv_.notify_all();
    }
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    std::vector<std::thread> conns;
    {
      std::lock_guard<std::mutex> l(mu_);
      conns.swap(conns_);
    }
    for (auto& t : conns) t.join();
  }

  int port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  // What /robots.txt answers; 404 until set.
  void set_robots(int status, std::string body) {
    std::lock_guard<std::mutex> l(mu_);
    robots_status_ = status;
    robots_body_ = std::move(body);
  }
  // Where /to-other redirects.
  void set_other(std::string url) {
    std::lock_guard<std::mutex> l(mu_);
    other_ = std::move(url);
  }

  int requests(const std::string& path) const {  // by path without the query
    std::lock_guard<std::mutex> l(mu_);
    auto it = requests_.find(path);
    return it == requests_.end() ? 0 : it->second;
  }
  int total_requests() const {
    std::lock_guard<std::mutex> l(mu_);
    int n = 0;
    for (const auto& [path, count] : requests_) n += count;
    return n;
  }
  int max_in_progress() const { return max_in_progress_; }
  std::string last_header(const std::string& name) const {  // from the last /echo request
    std::lock_guard<std::mutex> l(mu_);
    auto it = echo_.find(name);
    return it == echo_.end() ? "" : it->second;
  }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) {
        ::close(fd);
        return;
      }
      conns_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  static bool send_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t w = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (w <= 0) return false;
      off += size_t(w);
    }
    return true;
  }

  static std::string response(int status, const std::string& type, const std::string& body,
                              const std::string& extra = "") {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
    if (!type.empty()) head += "Content-Type: " + type + "\r\n";
    return head + extra + "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }

  // Waits up to `ms`, less when the site stops.
  void hold(int ms) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::milliseconds(ms), [this] { return stopping_.load(); });
  }

  void serve(int fd) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, size_t(n));
    }
    const size_t sp = req.find(' ');
    const std::string target = req.substr(sp + 1, req.find(' ', sp + 1) - sp - 1);
    const std::string path = target.substr(0, target.find('?'));
    const std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    const int now = ++in_progress_;
    for (int seen = max_in_progress_; now > seen && !max_in_progress_.compare_exchange_weak(seen, now);) {
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      ++requests_[path];
    }
    // Counted out before the answer goes: once the client has it, it may start its next request
    // at once, which must not find this one still counted.
    const std::string reply = answer(fd, path, query, req);
    --in_progress_;
    send_all(fd, reply);
  }

  std::string answer(int fd, const std::string& path, const std::string& query, const std::string& req) {
    if (path == "/robots.txt") {
      std::lock_guard<std::mutex> l(mu_);
      return response(robots_status_, "text/plain", robots_body_);
    }
    if (path == "/page" || path.rfind("/private/", 0) == 0 || path.rfind("/open/", 0) == 0)
      return response(200, "text/html; charset=utf-8", kPageHtml);
    if (path == "/hold") {  // ?ms=N
      hold(std::stoi(query.substr(3)));
      return response(200, "text/html", kPageHtml);
    }
    if (path == "/slow") {
      hold(5000);
      return response(200, "text/html", kPageHtml);
    }
    if (path == "/redirect") return response(301, "", "", "Location: /page\r\n");
    if (path == "/loop-a") return response(302, "", "", "Location: /loop-b\r\n");
    if (path == "/loop-b") return response(302, "", "", "Location: /loop-a\r\n");
    if (path == "/to-ftp") return response(302, "", "", "Location: ftp://127.0.0.1/file\r\n");
    if (path == "/to-other") {
      std::lock_guard<std::mutex> l(mu_);
      return response(302, "", "", "Location: " + other_ + "\r\n");
    }
    if (path == "/big") return response(200, "text/plain", std::string(200 * 1024, 'x'));
    if (path == "/big-stream") {  // no Content-Length: only the write callback can stop it
      std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
      if (!send_all(fd, head)) return "";
      const std::string chunk(16 * 1024, 'y');
      for (int i = 0; i < 64 && !stopping_; ++i)
        if (!send_all(fd, chunk)) break;
      return "";
    }
    if (path == "/sjis") return response(200, "text/html; charset=Shift_JIS", shift_jis_html());
    if (path == "/text") return response(200, "text/plain; charset=utf-8", "plain words\n");
    if (path == "/png") return response(200, "image/png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
    if (path == "/echo") {
      std::lock_guard<std::mutex> l(mu_);
      echo_.clear();
      for (size_t at = req.find("\r\n"); at != std::string::npos && at + 2 < req.size();) {
        const size_t end = req.find("\r\n", at + 2);
        const std::string line = req.substr(at + 2, end - at - 2);
        const size_t colon = line.find(':');
        if (colon != std::string::npos) echo_[line.substr(0, colon)] = line.substr(std::min(line.size(), colon + 2));
        at = end;
      }
      return response(200, "application/json", "{\"ok\":true}");
    }
    if (path == "/unavailable") return response(503, "text/plain", "down for maintenance");
    return response(404, "text/plain", "not found");
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_progress_{0}, max_in_progress_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> conns_;
  std::map<std::string, int> requests_;
  std::map<std::string, std::string> echo_;
  int robots_status_ = 404;
  std::string robots_body_;
  std::string other_;
};

}  // namespace nagare::testing
