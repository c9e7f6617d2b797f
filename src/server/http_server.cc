#include "server/http_server.h"

#include <csignal>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>

#include "util/error.h"

namespace nagare {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  Impl(const Router& r, ServerOptions o)
      : router(r), options(std::move(o)), ioc(std::max(1, options.io_threads)), acceptor(ioc) {}

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) std::make_shared<HttpSession>(std::move(socket), router, options.limits)->start();
      accept();  // errors such as too many open files end one accept, not the server
    });
  }

  const Router& router;
  std::function<void()> reload;  // SIGHUP
  ServerOptions options;
  net::io_context ioc;
  tcp::acceptor acceptor;
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
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port());
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
        if (sig != SIGHUP) return stop();
        impl_->reload();
        wait();
      });
    };
    wait();
  }
  impl_->accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->options.io_threads; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
  boost::system::error_code ec;
  signals.cancel(ec);
}

void HttpServer::stop() { impl_->ioc.stop(); }

}  // namespace nagare
