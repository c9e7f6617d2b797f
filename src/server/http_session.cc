#include "server/http_session.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "util/ascii.h"

namespace nagare {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

template <class Message>
void set_fields(Message& m, const HttpResponse& res) {
  m.set(http::field::server, "nagare");
  m.set(http::field::content_type, res.content_type);
  for (const auto& [k, v] : res.headers) m.set(k, v);
}

}  // namespace

template <class Stream>
BasicHttpSession<Stream>::BasicHttpSession(Stream&& stream, const Router& router, const ServerLimits& limits,
                                           ServingState* state)
    : stream_(std::move(stream)), router_(router), limits_(limits), state_(state) {
  if (state_) state_->connection_opened();
  error_code ec;
  const auto ep = lowest().socket().remote_endpoint(ec);
  if (!ec) remote_ = ep.address().to_string();
}

template <class Stream>
BasicHttpSession<Stream>::~BasicHttpSession() {
  if (source_) source_->cancel();
  end_record(record_ ? record_->status : 0, false);  // the server stopped mid-response
  if (state_) state_->connection_closed();
}

template <class Stream>
void BasicHttpSession<Stream>::begin_record(std::string method, std::string path) {
  if (state_) state_->request_started();
  record_ = std::make_shared<RequestRecord>();
  record_->method = std::move(method);
  record_->path = std::move(path);
  record_->remote = remote_;
  record_->received_at = std::chrono::system_clock::now();
  record_->started = std::chrono::steady_clock::now();
}

template <class Stream>
void BasicHttpSession<Stream>::end_record(int status, bool delivered) {
  if (!record_) return;
  std::shared_ptr<RequestRecord> r = std::move(record_);
  r->status = status;
  r->client_gone = !delivered;
  r->latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - r->started).count();
  router_.finished(*r);
  if (state_) state_->request_ended();  // after the observers: a drain waits for the audit row too
}

template <class Stream>
void BasicHttpSession<Stream>::start() {
  net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
    if constexpr (kTls) {
      self->lowest().expires_after(self->limits_.read_timeout);
      self->stream_.async_handshake(boost::asio::ssl::stream_base::server, [self](error_code ec) {
        if (ec) return self->close();  // not TLS, a bad client certificate, a timeout
        self->read_request();
      });
    } else {
      self->read_request();
    }
  });
}

// ---- reading requests ----

template <class Stream>
void BasicHttpSession<Stream>::read_request() {
  if (closed_) return;
  parser_.emplace();
  parser_->body_limit(limits_.max_body_bytes);
  parser_->header_limit(static_cast<uint32_t>(limits_.max_header_bytes));
  lowest().expires_after(limits_.read_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = this->shared_from_this()](error_code ec, size_t) { self->on_header(ec); });
}

template <class Stream>
void BasicHttpSession<Stream>::on_header(error_code ec) {
  if (ec) return on_body(ec);
  // Clients that send "Expect: 100-continue" (curl, for large bodies) wait for this before the
  // body; a body over the limit has already failed the header read with 413.
  const auto expect = parser_->get()[http::field::expect];
  if (ascii_iequals(std::string_view(expect.data(), expect.size()), "100-continue")) {
    out_ = "HTTP/1.1 100 Continue\r\n\r\n";
    lowest().expires_after(limits_.write_timeout);
    net::async_write(stream_, net::buffer(out_), [self = this->shared_from_this()](error_code ec2, size_t) {
      if (ec2) return self->close();
      self->read_body();
    });
    return;
  }
  read_body();
}

template <class Stream>
void BasicHttpSession<Stream>::read_body() {
  if (parser_->is_done()) return on_body({});
  lowest().expires_after(limits_.read_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = this->shared_from_this()](error_code ec, size_t) { self->on_body(ec); });
}

template <class Stream>
void BasicHttpSession<Stream>::on_body(error_code ec) {
  if (!ec) return dispatch();
  if (ec == http::error::body_limit)
    return reject(413, "The request body is larger than the limit of " +
                           std::to_string(limits_.max_body_bytes) + " bytes");
  if (ec == http::error::header_limit)
    return reject(431, "The request headers are larger than the limit of " +
                           std::to_string(limits_.max_header_bytes) + " bytes");
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message)
    return reject(400, "Malformed HTTP request: " + ec.message());
  close();  // end of stream, timeout, reset, shutdown
}

template <class Stream>
void BasicHttpSession<Stream>::dispatch() {
  http::request<http::string_body> msg = parser_->release();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  const size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  req.body = std::move(msg.body());
  req.remote = remote_;
  begin_record(req.method, req.path);
  req.record = record_;
  keep_alive_ = msg.keep_alive() && !(state_ && state_->phase() == ServingState::Phase::kDraining);
  version_ = msg.version();

  HttpResponse res = router_.handle(req);
  if (res.source) begin_source(std::move(res));
  else send(std::move(res));
}

// ---- complete responses ----

template <class Stream>
void BasicHttpSession<Stream>::send(HttpResponse res) {
  full_ = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(res.status), version_);
  set_fields(*full_, res);
  full_->body() = std::move(res.body);
  full_->keep_alive(keep_alive_);
  full_->prepare_payload();
  lowest().expires_after(limits_.write_timeout);
  http::async_write(stream_, *full_, [self = this->shared_from_this(), status = res.status](error_code ec, size_t) {
    const bool close = self->full_->need_eof();
    self->full_.reset();
    self->end_record(status, !ec);
    if (ec) return self->close();
    self->after_response(close);
  });
}

template <class Stream>
void BasicHttpSession<Stream>::after_response(bool close_connection) {
  if (close_connection || !keep_alive_) {
    error_code ec;
    lowest().socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    return close();
  }
  if (watching_) {
    // Stop the disconnect watch; its handler starts the next read (keeping what it received).
    read_after_watch_ = true;
    error_code ec;
    lowest().socket().cancel(ec);
    return;
  }
  read_request();
}

template <class Stream>
void BasicHttpSession<Stream>::reject(int status, const std::string& message) {
  keep_alive_ = false;
  // The error takes the shape of the API the request was for, when its header got that far.
  std::string path;
  if (parser_ && parser_->is_header_done()) {
    const auto target = parser_->get().target();
    path.assign(target.data(), target.size());
    path.resize(std::min(path.find('?'), path.size()));
  }
  HttpResponse res = router_.error(status, message, "", path);
  if (!record_) {
    begin_record(parser_ && parser_->is_header_done() ? std::string(parser_->get().method_string()) : "", path);
  }
  full_ = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
  set_fields(*full_, res);
  full_->body() = std::move(res.body);
  full_->keep_alive(false);
  full_->prepare_payload();
  lowest().expires_after(limits_.write_timeout);
  http::async_write(stream_, *full_, [self = this->shared_from_this(), status](error_code ec, size_t) {
    self->full_.reset();
    self->end_record(status, !ec);
    if (ec) return self->close();
    self->linger();
  });
}

// After rejecting a request whose body is still arriving, closing at once would reset the
// connection and the client could lose the response: read and drop its data for a while first.
template <class Stream>
void BasicHttpSession<Stream>::linger() {
  error_code ec;
  lowest().socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto discard = std::make_shared<std::function<void()>>();
  *discard = [self = this->shared_from_this(), deadline, discard] {
    self->lowest().expires_at(deadline);
    self->buffer_.clear();
    self->stream_.async_read_some(self->buffer_.prepare(64 * 1024),
                                  [self, discard](error_code ec2, size_t) {
                                    if (ec2) {
                                      *discard = nullptr;  // break the self-reference
                                      return self->close();
                                    }
                                    (*discard)();
                                  });
  };
  (*discard)();
}

template <class Stream>
void BasicHttpSession<Stream>::close() {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  lowest().socket().close(ec);
}

// ---- bodies from a ResponseSource ----

template <class Stream>
void BasicHttpSession<Stream>::begin_source(HttpResponse res) {
  source_ = std::move(res.source);
  streamed_ = res.streamed;
  chunked_ = streamed_ && version_ >= 11;
  if (streamed_ && !chunked_) keep_alive_ = false;  // HTTP/1.0: the end of the body is the close
  source_done_ = false;
  last_chunk_sent_ = false;
  pending_.clear();
  res_meta_ = std::move(res);
  head_known_ = !res_meta_.head_from_source;

  lowest().expires_never();
  watch_peer();
  std::weak_ptr<BasicHttpSession> weak = this->weak_from_this();
  source_->start([weak] {
    if (auto self = weak.lock()) self->wake();
  });

  if (!streamed_ || !head_known_) return pump();
  write_head();
}

template <class Stream>
void BasicHttpSession<Stream>::write_head() {
  head_ = std::make_unique<http::response<http::empty_body>>(
      static_cast<http::status>(res_meta_.status), version_);
  set_fields(*head_, res_meta_);
  head_->keep_alive(keep_alive_);
  if (chunked_) head_->chunked(true);
  head_sr_ = std::make_unique<http::response_serializer<http::empty_body>>(*head_);
  writing_ = true;
  lowest().expires_after(limits_.write_timeout);
  http::async_write_header(stream_, *head_sr_, [self = this->shared_from_this()](error_code ec, size_t) {
    self->on_written(ec);
  });
}

template <class Stream>
void BasicHttpSession<Stream>::wake() {
  if (wake_posted_.exchange(true)) return;  // one pending wake-up is enough
  net::post(stream_.get_executor(), [self = this->shared_from_this()] {
    self->wake_posted_.store(false);
    self->pump();
  });
}

template <class Stream>
void BasicHttpSession<Stream>::pump() {
  if (!source_ || writing_ || closed_) return;
  if (!head_known_) {
    if (!source_->head(res_meta_)) return;
    head_known_ = true;
    streamed_ = res_meta_.streamed;
    chunked_ = streamed_ && version_ >= 11;
    if (streamed_ && !chunked_) keep_alive_ = false;
    if (streamed_) return write_head();
  }
  if (!source_done_) {
    try {
      source_done_ = source_->poll(pending_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nagare: response failed: %s\n", e.what());
      return abort_source();
    }
  }
  if (!streamed_) {
    if (!source_done_) return;
    HttpResponse res = std::move(res_meta_);
    res.status = source_->status();
    res.body = std::move(pending_);
    pending_.clear();
    res.source.reset();
    source_.reset();
    return send(std::move(res));
  }
  if (!pending_.empty()) {
    out_.swap(pending_);
    pending_.clear();
    return write_chunk();
  }
  if (source_done_) {
    last_chunk_sent_ = true;
    if (!chunked_) return finish_source();
    writing_ = true;
    lowest().expires_after(limits_.write_timeout);
    net::async_write(stream_, http::make_chunk_last(),
                     [self = this->shared_from_this()](error_code ec, size_t) { self->on_written(ec); });
  }
}

template <class Stream>
void BasicHttpSession<Stream>::write_chunk() {
  writing_ = true;
  lowest().expires_after(limits_.write_timeout);
  auto done = [self = this->shared_from_this()](error_code ec, size_t) { self->on_written(ec); };
  if (chunked_) net::async_write(stream_, http::make_chunk(net::buffer(out_)), std::move(done));
  else net::async_write(stream_, net::buffer(out_), std::move(done));
}

template <class Stream>
void BasicHttpSession<Stream>::on_written(error_code ec) {
  writing_ = false;
  if (ec) return abort_source();
  if (last_chunk_sent_) return finish_source();
  pump();
}

template <class Stream>
void BasicHttpSession<Stream>::finish_source() {
  source_.reset();
  end_record(res_meta_.status, true);
  head_sr_.reset();
  head_.reset();
  out_.clear();
  after_response(!keep_alive_);
}

template <class Stream>
void BasicHttpSession<Stream>::abort_source() {
  if (source_) {
    source_->cancel();
    source_.reset();
  }
  end_record(res_meta_.status, false);
  close();
}

// While a response is pending nothing is read, so a client that hangs up would go unnoticed
// until the next write (for a buffered body: the end). A read kept pending detects it at once.
template <class Stream>
void BasicHttpSession<Stream>::watch_peer() {
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](error_code ec, size_t n) {
    self->on_peer(ec, n);
  });
}

template <class Stream>
void BasicHttpSession<Stream>::on_peer(error_code ec, size_t n) {
  watching_ = false;
  if (!ec) {
    buffer_.commit(n);  // a pipelined request: kept for the next read
    if (source_ && buffer_.size() < limits_.max_header_bytes) return watch_peer();
  }
  if (read_after_watch_) {
    read_after_watch_ = false;
    if (!ec || ec == net::error::operation_aborted) return read_request();
    return close();
  }
  if (!ec) return;  // response still pending, too much pipelined data to keep watching
  if (closed_) return;
  abort_source();  // end of stream, reset: the client is gone
}

template class BasicHttpSession<beast::tcp_stream>;
template class BasicHttpSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace nagare
