// libcurl for the store: small GETs (the Hugging Face API) and streamed downloads that resume
// with an HTTP Range request. Redirects are followed (http and https only); a loopback host
// never goes through a proxy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nagare {

struct HttpResult {
  long status = 0;          // the final response's status; 0 when none came
  std::string error;        // transport failure or the sink's reason to stop; empty when neither
  bool sink_stopped = false;  // error came from the sink
  std::string body;         // the body of a small GET, or the start of an error response's body
  std::string next_page;    // a Link: <url>; rel="next" header's URL (paginated API listings)

  bool transport_failed() const { return !error.empty() && !sink_stopped; }
};

// GET a small document (at most max_bytes).
HttpResult http_get(const std::string& url, const std::vector<std::string>& headers, size_t max_bytes = 64u << 20);

// Where a download's body goes. begin() is called once the final response (2xx) starts, with
// the file offset of its first byte (0 when the server sends the whole file, also after a Range
// request) and the file's full size when the headers state it. Returning a non-empty string
// from either call stops the transfer with that message.
class DownloadSink {
 public:
  virtual ~DownloadSink() = default;
  virtual std::string begin(uint64_t offset, std::optional<uint64_t> total) = 0;
  virtual std::string write(const char* data, size_t n) = 0;
};

// GET `url`, asking for the bytes from `resume_from` on (a Range request) when it is non-zero.
// A 2xx body goes to `sink`; any other status's first KiB lands in HttpResult::body.
HttpResult http_download(const std::string& url, const std::vector<std::string>& headers, uint64_t resume_from,
                         DownloadSink& sink);

}  // namespace nagare
