// HttpServer: accepts connections on host:port and runs HttpSessions on a few I/O threads
// (Boost.Asio io_context, one strand per connection). run() blocks until stop() or SIGINT/SIGTERM.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/http_session.h"
#include "server/router.h"

namespace nagare {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see HttpServer::port())
  int io_threads = 2;
  ServerLimits limits;
};

class HttpServer {
 public:
  // Binds and listens; throws Error when the address cannot be used. `router` must outlive it.
  HttpServer(const Router& router, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;    // the bound port
  std::string url() const;  // "http://host:port"

  // Serves until stop() (from any thread) or, when handle_signals, SIGINT / SIGTERM. Connections
  // still open are left to the destructor, which cancels their pending work.
  void run(bool handle_signals = true);
  void stop();
  // Called on an I/O thread for each SIGHUP while run() handles signals (e.g. reload API keys).
  void on_reload(std::function<void()> handler);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nagare
