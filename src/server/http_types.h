// What handlers see and return: an HTTP request (method, path, headers, body) and a response
// that is either complete or produced later by a ResponseSource (SSE streams, or bodies that
// are ready only when the engine finishes). Nothing here depends on Beast.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/request_record.h"

namespace nagare {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/v1/models?x=1"
  std::string path;    // target without the query
  std::string query;   // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string remote;  // peer address
  // Filled while the request runs and handed to the router's observers at its end; set by the
  // session (null in tests that call handlers directly).
  std::shared_ptr<RequestRecord> record;

  // The first header of that (lower-case) name, or "".
  std::string_view header(std::string_view name) const;
};

// A response body produced over time. The session calls start() once, then poll() on its own
// strand each time `wake` has fired (and once at the start), until poll() returns true.
class ResponseSource {
 public:
  virtual ~ResponseSource() = default;
  // `wake` may be called from any thread, any number of times; it never blocks.
  virtual void start(std::function<void()> wake) = 0;
  // Appends the bytes ready now to `out`; returns true when nothing more will come.
  virtual bool poll(std::string& out) = 0;
  // The client went away or the connection failed: stop the work behind the response.
  virtual void cancel() = 0;
  // For a response whose head comes from its source (HttpResponse::head_from_source, e.g. a
  // proxied one): fills `meta`'s status, content type, headers and `streamed` once known and
  // returns true; false until then (the source wakes the session when it is). Asked before poll.
  virtual bool head(struct HttpResponse& meta) { return true; }
  // Status of a buffered (not streamed) response, asked once poll() returned true.
  virtual int status() const { return 200; }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body comes from the source: streamed (chunked transfer encoding, headers sent
  // at once) or buffered (sent whole, with the source's status, once it is complete).
  std::shared_ptr<ResponseSource> source;
  bool streamed = false;
  bool head_from_source = false;  // status, headers and streamed come later from source->head()

  static HttpResponse json(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

}  // namespace nagare
