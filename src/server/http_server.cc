#include "server/http_server.h"

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>

#include "util/error.h"

namespace nagare {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  Impl(const Router& r, ServerOptions o)
      : router(r), options(std::move(o)), state(options.state ? options.state : &own_state),
        ioc(std::max(1, options.io_threads)), acceptor(ioc) {}

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        if (options.max_connections > 0 && state->connections() >= options.max_connections)
          refuse(std::move(socket));
        else if (tls)
          std::make_shared<HttpsSession>(beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls),
                                         router, options.limits, state)
              ->start();
        else
          std::make_shared<HttpSession>(beast::tcp_stream(std::move(socket)), router, options.limits, state)->start();
      }
      accept();  // errors such as too many open files end one accept, not the server
    });
  }

  // Over --max-connections: a short 503 (the request is not read) and the connection closes.
  static void refuse(tcp::socket socket) {
    static const std::string kBody =
        R"({"error":{"message":"too many connections: the server is at its limit; retry shortly","type":"server_error","param":null,"code":"too_many_connections"}})";
    static const std::string kResponse = "HTTP/1.1 503 Service Unavailable\r\nServer: nagare\r\nContent-Type: application/json\r\n"
                                         "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
                                         std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
    auto s = std::make_shared<tcp::socket>(std::move(socket));
    net::async_write(*s, net::buffer(kResponse), [s](boost::system::error_code, size_t) {
      boost::system::error_code ec;
      s->shutdown(tcp::socket::shutdown_send, ec);
      s->close(ec);
    });
  }

  void drain_wait(std::chrono::steady_clock::time_point deadline) {
    if (state->in_flight() == 0 || std::chrono::steady_clock::now() >= deadline) {
      if (state->in_flight() > 0)
        std::fprintf(stderr, "nagare: %d requests still running after the shutdown timeout: cancelled\n", state->in_flight());
      ioc.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([this, deadline](boost::system::error_code ec) {
      if (!ec) drain_wait(deadline);
    });
  }

  // Once the server has been idle for a moment after some work, the memory the requests freed
  // goes back to the system: glibc keeps freed heap in its arenas, so after a burst of hundreds
  // of connections the process would stay tens of MiB larger than its load needs.
  void trim_when_idle(uint64_t trimmed_at) {
    trim_timer.expires_after(std::chrono::seconds(1));
    trim_timer.async_wait([this, trimmed_at](boost::system::error_code ec) {
      if (ec) return;
      uint64_t next = trimmed_at;
      const uint64_t started = state->started_total();
      if (started != trimmed_at && state->in_flight() == 0) {  // requests came, and none runs now
#ifdef __GLIBC__
        ::malloc_trim(0);
#endif
        next = started;
      }
      trim_when_idle(next);
    });
  }

  const Router& router;
  std::unique_ptr<net::ssl::context> tls;  // HTTPS
  std::function<void()> reload;  // SIGHUP
  ServerOptions options;
  ServingState own_state;
  ServingState* state;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer drain_timer{ioc};
  net::steady_timer trim_timer{ioc};
  bool draining = false;  // on the io_context
};

HttpServer::HttpServer(const Router& router, ServerOptions options)
    : impl_(std::make_unique<Impl>(router, std::move(options))) {
  const ServerOptions& o = impl_->options;
  boost::system::error_code ec;
  tcp::endpoint endpoint;
  const auto address = net::ip::make_address(o.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, o.port);
  } else {  // a host name such as "localhost"
    tcp::resolver resolver(impl_->ioc);
    const auto results = resolver.resolve(o.host, std::to_string(o.port), tcp::resolver::passive, ec);
    if (ec || results.empty())
      throw Error("cannot listen on '" + o.host + "': not an address or a known host name (" + ec.message() + ")");
    endpoint = results.begin()->endpoint();
  }
  auto& acc = impl_->acceptor;
  auto check = [&](const char* what) {
    if (ec)
      throw Error(std::string("cannot listen on ") + o.host + ":" + std::to_string(o.port) + ": " +
                  what + ": " + ec.message());
  };
  acc.open(endpoint.protocol(), ec);
  check("open");
  acc.set_option(net::socket_base::reuse_address(true), ec);
  check("set_option");
  acc.bind(endpoint, ec);
  check("bind");
  acc.listen(net::socket_base::max_listen_connections, ec);
  check("listen");
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    throw Error("HTTPS needs both --ssl-cert-file and --ssl-key-file");
  if (!o.tls_cert_file.empty()) {
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 |
                     net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    ctx->use_certificate_chain_file(o.tls_cert_file, ec);
    if (ec) throw Error(o.tls_cert_file + ": cannot use the certificate: " + ec.message());
    ctx->use_private_key_file(o.tls_key_file, net::ssl::context::pem, ec);
    if (ec) throw Error(o.tls_key_file + ": cannot use the private key with " + o.tls_cert_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
      throw Error(o.tls_key_file + ": the private key does not match the certificate in " + o.tls_cert_file);
    impl_->tls = std::move(ctx);
  }
}

HttpServer::~HttpServer() {
  stop();
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string HttpServer::url() const {
  const std::string host = impl_->options.host;
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(impl_->tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port());
}

void HttpServer::on_reload(std::function<void()> handler) { impl_->reload = std::move(handler); }

void HttpServer::run(bool handle_signals) {
  net::signal_set signals(impl_->ioc);
  std::function<void()> wait;  // re-armed after each SIGHUP
  if (handle_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    if (impl_->reload) signals.add(SIGHUP);
    wait = [this, &signals, &wait] {
      signals.async_wait([this, &wait](boost::system::error_code ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          impl_->reload();
        } else if (impl_->state->phase() == ServingState::Phase::kDraining) {
          std::fprintf(stderr, "nagare: second signal: stopping now\n");
          return stop();
        } else {
          drain();
        }
        wait();
      });
    };
    wait();
  }
  impl_->accept();
  impl_->trim_when_idle(impl_->state->started_total());
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->options.io_threads; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
  boost::system::error_code ec;
  signals.cancel(ec);
}

void HttpServer::stop() { impl_->ioc.stop(); }

void HttpServer::drain() {
  net::post(impl_->ioc, [this] {
    Impl& i = *impl_;
    if (i.draining) return;
    i.draining = true;
    // Connections are still accepted: /health answers "draining" (load balancers take the
    // replica out), every other request gets 503, and each response closes its connection.
    i.state->set_phase(ServingState::Phase::kDraining);
    std::fprintf(stderr, "nagare: draining: %d requests running, up to %lld ms\n", i.state->in_flight(),
                 static_cast<long long>(i.options.shutdown_timeout.count()));
    i.drain_wait(std::chrono::steady_clock::now() + i.options.shutdown_timeout);
  });
}

}  // namespace nagare
