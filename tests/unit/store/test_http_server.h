// A tiny HTTP/1.1 file server on a loopback port for the pull tests: one body at /file, Range
// requests (206, or 416 past the end) unless switched off, a request log, and two ways to make
// a download go wrong on purpose: hold a response part-way until the test releases it, or cut
// the connection part-way once. Each connection gets its own thread; one request per connection.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nagare::testing {

class TestHttpServer {
 public:
  explicit TestHttpServer(std::string body) : body_(std::move(body)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0)
      throw std::runtime_error("test server: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~TestHttpServer() {
    stopping_ = true;
    release();
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

  std::string url(const std::string& path = "/file") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void set_range_support(bool on) { ranges_on_ = on; }
  // Full (non-Range) responses stop after `bytes` until release().
  void hold_after(size_t bytes) {
    std::lock_guard<std::mutex> l(mu_);
    hold_at_ = bytes;
    held_ = true;
  }
  void release() {
    std::lock_guard<std::mutex> l(mu_);
    held_ = false;
    cv_.notify_all();
  }
  // The next response closes its connection after `bytes` of the body.
  void cut_once_after(size_t bytes) { cut_at_ = bytes; }

  int gets() const {
    std::lock_guard<std::mutex> l(mu_);
    return int(ranges_.size());
  }
  std::vector<std::string> ranges() const {  // each GET of /file: its Range header, "" for none
    std::lock_guard<std::mutex> l(mu_);
    return ranges_;
  }

 private:
  void accept_loop() {
    for (;;) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      if (stopping_) {
        ::close(fd);
        return;
      }
      std::lock_guard<std::mutex> l(mu_);
      conns_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  static bool send_all(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= size_t(w);
    }
    return true;
  }

  void serve(int fd) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, size_t(n));
    }
    const std::string path = req.substr(4, req.find(' ', 4) - 4);
    std::string range;
    for (const char* key : {"\r\nRange: ", "\r\nrange: "}) {
      size_t at = req.find(key);
      if (at != std::string::npos) range = req.substr(at + std::strlen(key), req.find("\r\n", at + 2) - at - std::strlen(key));
    }
    if (path != "/file") {
      const std::string r = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found";
      send_all(fd, r.data(), r.size());
      return;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      ranges_.push_back(range);
    }
    size_t from = 0;
    std::string head;
    if (!range.empty() && ranges_on_) {
      from = std::stoul(range.substr(6));  // "bytes=N-"
      if (from >= body_.size()) {
        head = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" + std::to_string(body_.size()) +
               "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(fd, head.data(), head.size());
        return;
      }
      head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(from) + "-" +
             std::to_string(body_.size() - 1) + "/" + std::to_string(body_.size()) + "\r\n";
    } else {
      head = "HTTP/1.1 200 OK\r\n";
    }
    head += "Content-Length: " + std::to_string(body_.size() - from) + "\r\nConnection: close\r\n\r\n";
    if (!send_all(fd, head.data(), head.size())) return;
    size_t end = body_.size();
    const size_t cut = cut_at_.exchange(0);
    if (cut) end = std::min(end, from + cut);
    size_t pos = from;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (held_ && from == 0) {
        const size_t first = std::min(end, hold_at_);
        l.unlock();
        if (!send_all(fd, body_.data(), first)) return;
        pos = first;
        l.lock();
        cv_.wait(l, [this] { return !held_; });
      }
    }
    send_all(fd, body_.data() + pos, end - pos);
  }

  std::string body_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false}, ranges_on_{true};
  std::atomic<size_t> cut_at_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  size_t hold_at_ = 0;
  std::vector<std::string> ranges_;
  std::vector<std::thread> conns_;
};

}  // namespace nagare::testing
