// HttpServer: accepts connections on host:port and runs HttpSessions on a few I/O threads
// (Boost.Asio io_context, one strand per connection). run() blocks until stop() or SIGINT/SIGTERM.
#pragma once

#include <chrono>
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
  int max_connections = 0;  // beyond it a new connection gets 503 and is closed; 0: no limit
  // After SIGINT / SIGTERM: how long running requests may take to finish before they are cut.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(30)};
  ServingState* state = nullptr;  // shared with the routes; null: the server keeps its own
  // HTTPS when both are set: PEM files of the certificate (chain) and its private key.
  std::string tls_cert_file, tls_key_file;
};

class HttpServer {
 public:
  // Binds and listens; throws Error when the address cannot be used. `router` must outlive it.
  HttpServer(const Router& router, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;    // the bound port
  std::string url() const;  // "http://host:port", or https with TLS

  // Serves until stop() (from any thread) or, when handle_signals, a signal: the first SIGINT or
  // SIGTERM drains (drain()), a second stops at once. Connections still open are left to the
  // destructor, which cancels their pending work.
  void run(bool handle_signals = true);
  void stop();
  // Marks the state draining (new requests but /health and /metrics get 503; responses close
  // their connections) and stops once no request is in flight, or after the shutdown timeout.
  void drain();
  // Called on an I/O thread for each SIGHUP while run() handles signals (e.g. reload API keys).
  void on_reload(std::function<void()> handler);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nagare
