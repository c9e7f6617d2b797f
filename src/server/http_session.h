// HttpSession / HttpsSession: one client connection on Boost.Beast, plain or TLS. Reads requests (size and time limited),
// routes them, writes responses with keep-alive; streams ResponseSource bodies as chunked
// transfer encoding and, while one is in flight, watches the socket so a client that hangs up
// cancels the work behind it. Every handler runs on the connection's strand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <type_traits>

#include "server/router.h"
#include "server/serving_state.h"

namespace nagare {

struct ServerLimits {
  size_t max_body_bytes = size_t(8) << 20;  // larger bodies get 413
  size_t max_header_bytes = 16 * 1024;      // larger headers get 431
  // Reading one request (and waiting for it on an idle keep-alive connection).
  std::chrono::milliseconds read_timeout{std::chrono::seconds(60)};
  // Writing one response or one chunk of a stream (a client that stops reading).
  std::chrono::milliseconds write_timeout{std::chrono::seconds(60)};
};

// Over plain TCP (HttpSession) or TLS (HttpsSession: the handshake comes first).
template <class Stream>
class BasicHttpSession : public std::enable_shared_from_this<BasicHttpSession<Stream>> {
 public:
  // `state` (may be null) counts the connection and its requests, and says when to stop keeping
  // connections alive (draining).
  BasicHttpSession(Stream&& stream, const Router& router, const ServerLimits& limits, ServingState* state = nullptr);
  ~BasicHttpSession();
  void start();

 private:
  using error_code = boost::beast::error_code;
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

  void read_request();
  void on_header(error_code ec);
  void read_body();
  void on_body(error_code ec);
  void reject(int status, const std::string& message);  // answer and close (lingering)
  void dispatch();
  void send(HttpResponse res);
  void after_response(bool close);
  void linger();
  void close();

  // ResponseSource bodies.
  void begin_source(HttpResponse res);
  void write_head();  // a streamed response's status and headers
  void wake();  // any thread
  void pump();  // strand: poll the source, write what it gave
  void write_chunk();
  void on_written(error_code ec);
  void finish_source();
  void abort_source();  // the client is gone: cancel and close
  // The request's record: begun when a request is dispatched (or rejected), ended once its
  // response has been sent or abandoned, which hands it to the router's observers.
  void begin_record(std::string method, std::string path);
  void end_record(int status, bool delivered);
  void watch_peer();
  void on_peer(error_code ec, size_t n);
  boost::beast::tcp_stream& lowest() { return boost::beast::get_lowest_layer(stream_); }

  static constexpr bool kTls = !std::is_same_v<Stream, boost::beast::tcp_stream>;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  const Router& router_;
  ServerLimits limits_;
  std::string remote_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  bool closed_ = false;

  std::shared_ptr<ResponseSource> source_;
  std::shared_ptr<RequestRecord> record_;  // of the request being answered
  ServingState* state_ = nullptr;
  HttpResponse res_meta_;  // status, content type and headers of the pending response
  bool streamed_ = false;
  bool head_known_ = true; // false until a head_from_source response's source gives its head
  bool chunked_ = false;   // HTTP/1.1 stream; HTTP/1.0 streams end with the connection
  bool source_done_ = false;
  bool writing_ = false;
  bool last_chunk_sent_ = false;
  bool watching_ = false;
  bool read_after_watch_ = false;
  std::string pending_;  // polled, not yet written
  std::string out_;      // being written
  std::unique_ptr<boost::beast::http::response<boost::beast::http::empty_body>> head_;
  std::unique_ptr<boost::beast::http::response_serializer<boost::beast::http::empty_body>> head_sr_;
  std::shared_ptr<boost::beast::http::response<boost::beast::http::string_body>> full_;
  std::atomic<bool> wake_posted_{false};
};

using HttpSession = BasicHttpSession<boost::beast::tcp_stream>;
using HttpsSession = BasicHttpSession<boost::beast::ssl_stream<boost::beast::tcp_stream>>;
extern template class BasicHttpSession<boost::beast::tcp_stream>;
extern template class BasicHttpSession<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

}  // namespace nagare
