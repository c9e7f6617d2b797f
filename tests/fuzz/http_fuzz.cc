// libFuzzer target for the HTTP transport: the input is the byte stream one client sends on one
// connection. It is fed through a socketpair to the server's own HttpSession (Beast's request
// parser with the session's header and body limits, Expect: 100-continue, keep-alive and
// pipelining, rejects with lingering close) and Router (routes, prefix routes, 404/405, errors
// turned into the OpenAI error shape), with routes shaped like the OpenAI ones: the completion
// routes parse their bodies with the real request parsers and answer through ResponseSources,
// streamed (chunked) when the body asks for "stream": true and buffered otherwise.
// The session runs until it waits for more input; then the client half-closes and the session
// runs to its end. What it wrote back must parse as a sequence of HTTP responses (only the last
// may be cut short, by the client's half-close), none of them a 500: a 500 means a handler threw
// something other than nagare::Error, which is a finding.
// Build and run: see tests/fuzz/CMakeLists.txt and docs/fuzzing.md.
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "api/api_error.h"
#include "api/openai_request.h"
#include "server/http_session.h"
#include "server/router.h"

namespace {

using namespace nagare;
namespace net = boost::asio;
namespace http = boost::beast::http;

// A body produced in pieces, one per poll, each after a wake-up (as a CompletionJob does).
class PiecesSource : public ResponseSource {
 public:
  PiecesSource(std::vector<std::string> pieces, int status) : pieces_(std::move(pieces)), status_(status) {}
  void start(std::function<void()> wake) override {
    wake_ = std::move(wake);
    wake_();
  }
  bool poll(std::string& out) override {
    if (next_ < pieces_.size()) out += pieces_[next_++];
    if (next_ < pieces_.size()) {
      wake_();
      return false;
    }
    return true;
  }
  void cancel() override { pieces_.clear(); }
  int status() const override { return status_; }

 private:
  std::vector<std::string> pieces_;
  size_t next_ = 0;
  int status_;
  std::function<void()> wake_;
};

HttpResponse answer(const OpenAiRequest& r) {
  HttpResponse res;
  res.streamed = r.stream;
  std::vector<std::string> pieces;
  if (r.stream) {
    res.content_type = "text/event-stream";
    res.headers.emplace_back("Cache-Control", "no-cache");
    for (int i = 0; i < r.n && i < 3; ++i) pieces.push_back("data: {\"choice\": " + std::to_string(i) + "}\n\n");
    pieces.push_back("data: [DONE]\n\n");
  } else {
    pieces = {"{\"model\": ", to_wire(r.model), ", \"n\": " + std::to_string(r.n) + "}"};
  }
  res.source = std::make_shared<PiecesSource>(std::move(pieces), 200);
  return res;
}

const Router& router() {
  static const Router r = [] {
    Router rt;
    rt.add("POST", "/v1/chat/completions", [](const HttpRequest& req) {
      return answer(parse_chat_request(parse_json_body(req.body)));
    });
    rt.add("POST", "/v1/completions", [](const HttpRequest& req) {
      return answer(parse_completion_request(parse_json_body(req.body)));
    });
    rt.add("GET", "/v1/models", [](const HttpRequest&) {
      return HttpResponse::json(200, R"({"object":"list","data":[{"id":"m","object":"model"}]})");
    });
    rt.add_prefix("GET", "/v1/models/", [](const HttpRequest& req) {
      const std::string id = req.path.substr(std::string("/v1/models/").size());
      if (id != "m") throw ApiError::model_not_found(id);
      return HttpResponse::json(200, R"({"id":"m","object":"model"})");
    });
    rt.add("GET", "/health", [](const HttpRequest& req) {
      // Echoes what the session decoded, so the conversion is exercised.
      std::string s = req.method + req.target + req.path + req.query + std::string(req.header("host"));
      for (const auto& [k, v] : req.headers) s += k + v;
      return HttpResponse::json(200, "{\"status\":\"ok\",\"n\":" + std::to_string(s.size()) + "}");
    });
    return rt;
  }();
  return r;
}

// Small limits, so that inputs of a few KiB reach them.
ServerLimits limits() {
  ServerLimits l;
  l.max_body_bytes = 4096;
  l.max_header_bytes = 2048;
  return l;
}

// The responses the session wrote: each must parse; only the last may be incomplete.
void check_responses(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    http::response_parser<http::string_body> p;
    p.body_limit(boost::none);
    p.header_limit(1 << 20);
    p.eager(true);
    boost::beast::error_code ec;
    while (!p.is_done()) {
      const size_t n = off < bytes.size() ? p.put(net::buffer(bytes.data() + off, bytes.size() - off), ec) : 0;
      off += n;
      if (ec == http::error::need_more) ec = {};
      if (ec) std::abort();  // the session wrote something that is not HTTP
      if (n == 0) {
        // Out of bytes: a body that ends with the connection, or a response cut short.
        p.put_eof(ec);
        if (ec && ec != http::error::partial_message) std::abort();
        return;
      }
    }
    if (p.get().result_int() == 500) std::abort();  // an unexpected exception in a handler
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  net::io_context io(1);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
  // The session takes a TCP socket; on a socketpair every call it makes works the same (the
  // peer address is unknown, as for a connection reset before accept).
  net::ip::tcp::socket server(io);
  server.assign(net::ip::tcp::v4(), fds[0]);
  net::local::stream_protocol::socket client(io);
  client.assign(net::local::stream_protocol(), fds[1]);

  std::make_shared<HttpSession>(boost::beast::tcp_stream(std::move(server)), router(), limits())->start();

  net::async_write(client, net::buffer(data, size), [](boost::system::error_code, size_t) {});
  std::string received;
  std::vector<char> chunk(64 * 1024);
  std::function<void()> read_more = [&] {
    client.async_read_some(net::buffer(chunk), [&](boost::system::error_code ec, size_t n) {
      received.append(chunk.data(), n);
      if (!ec) read_more();
    });
  };
  read_more();

  // Run until the session waits for input it will never get, then end the request stream.
  while (io.poll() > 0) {
  }
  boost::system::error_code ec;
  client.shutdown(net::socket_base::shutdown_send, ec);
  io.run();

  static const bool print = std::getenv("HTTP_FUZZ_PRINT") != nullptr;  // for looking at one input
  if (print) std::fwrite(received.data(), 1, received.size(), stderr);
  check_responses(received);
  return 0;
}
