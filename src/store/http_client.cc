#include "store/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "util/error.h"

namespace nagare {
namespace {

constexpr size_t kErrorBodyBytes = 1024;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl failed to initialize");
  });
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string transport_error(CURLcode code, const char* detail) {
  std::string d = detail && *detail ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST: return "could not resolve the host (" + d + ")";
    case CURLE_COULDNT_CONNECT: return "could not connect (" + d + ")";
    case CURLE_OPERATION_TIMEDOUT: return "timed out (" + d + ")";
    case CURLE_PARTIAL_FILE: return "the connection closed before the whole file came (" + d + ")";
    case CURLE_RECV_ERROR: return "the connection broke while receiving (" + d + ")";
    case CURLE_GOT_NOTHING: return "the server closed the connection without a response";
    case CURLE_TOO_MANY_REDIRECTS: return "too many redirects";
    case CURLE_UNSUPPORTED_PROTOCOL: return "unsupported protocol (only http and https are)";
    case CURLE_PEER_FAILED_VERIFICATION: return "TLS certificate not trusted (" + d + ")";
    default: return d;
  }
}

// Headers of the response being received; reset at every status line (redirects, 100-continue).
struct Headers {
  long status = 0;
  std::optional<uint64_t> content_length;
  std::optional<uint64_t> range_start, range_total;  // Content-Range: bytes START-END/TOTAL
  std::string next_page;

  void reset() { *this = Headers{}; }
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  Headers& h = *static_cast<Headers*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    h.reset();
    size_t sp = line.find(' ');
    if (sp != std::string::npos) h.status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string key = lower(trim(line.substr(0, colon)));
  std::string value = trim(line.substr(colon + 1));
  if (key == "content-length") {
    char* end = nullptr;
    unsigned long long v = std::strtoull(value.c_str(), &end, 10);
    if (end != value.c_str() && *end == '\0') h.content_length = v;
  } else if (key == "content-range") {
    unsigned long long a = 0, b = 0, t = 0;
    if (std::sscanf(value.c_str(), "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
      h.range_start = a;
      h.range_total = t;
    } else if (std::sscanf(value.c_str(), "bytes %llu-%llu/*", &a, &b) == 2) {
      h.range_start = a;
    }
  } else if (key == "link") {
    // <https://host/api/...?cursor=...>; rel="next"
    for (size_t start = 0; start < value.size();) {
      size_t end = value.find(',', start);
      std::string part = value.substr(start, end == std::string::npos ? std::string::npos : end - start);
      size_t lt = part.find('<'), gt = part.find('>');
      if (lt != std::string::npos && gt != std::string::npos && gt > lt &&
          part.find("rel=\"next\"", gt) != std::string::npos)
        h.next_page = part.substr(lt + 1, gt - lt - 1);
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  return size * n;
}

bool is_loopback(const std::string& url) {
  size_t p = url.find("://");
  std::string rest = p == std::string::npos ? url : url.substr(p + 3);
  for (const char* h : {"127.", "localhost", "[::1]"})
    if (rest.rfind(h, 0) == 0) return true;
  return false;
}

struct Easy {
  CURL* e = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
  ~Easy() {
    if (headers) curl_slist_free_all(headers);
    if (e) curl_easy_cleanup(e);
  }
};

void setup(Easy& x, const std::string& url, const std::vector<std::string>& headers, Headers& h) {
  global_init();
  x.e = curl_easy_init();
  if (!x.e) throw Error("libcurl could not start a transfer");
  for (const auto& line : headers) x.headers = curl_slist_append(x.headers, line.c_str());
  curl_easy_setopt(x.e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(x.e, CURLOPT_HTTPHEADER, x.headers);
  curl_easy_setopt(x.e, CURLOPT_USERAGENT, "nagare");
  curl_easy_setopt(x.e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(x.e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(x.e, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(x.e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(x.e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(x.e, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled transfer (under 1 byte/s for a minute) ends; a slow one goes on.
  curl_easy_setopt(x.e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(x.e, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(x.e, CURLOPT_ERRORBUFFER, x.error);
  curl_easy_setopt(x.e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(x.e, CURLOPT_HEADERDATA, &h);
  if (is_loopback(url)) curl_easy_setopt(x.e, CURLOPT_PROXY, "");
}

struct GetState {
  Headers* h;
  std::string* body;
  size_t max_bytes;
  bool too_big = false;
};

size_t on_get_body(char* data, size_t size, size_t n, void* user) {
  auto& s = *static_cast<GetState*>(user);
  if (s.body->size() + size * n > s.max_bytes) {
    s.too_big = true;
    return 0;
  }
  s.body->append(data, size * n);
  return size * n;
}

struct DownloadState {
  Headers* h = nullptr;
  DownloadSink* sink = nullptr;
  uint64_t resume_from = 0;
  bool begun = false;
  std::string sink_error;
  std::string error_body;

  std::string begin() {
    begun = true;
    uint64_t offset = 0;
    std::optional<uint64_t> total;
    if (h->status == 206) {
      offset = h->range_start.value_or(0);
      total = h->range_total;
    } else if (h->content_length) {
      total = *h->content_length;
    }
    return sink->begin(offset, total);
  }
};

size_t on_download_body(char* data, size_t size, size_t n, void* user) {
  auto& s = *static_cast<DownloadState*>(user);
  const size_t bytes = size * n;
  if (s.h->status < 200 || s.h->status >= 300) {
    size_t take = std::min(bytes, kErrorBodyBytes - std::min(kErrorBodyBytes, s.error_body.size()));
    s.error_body.append(data, take);
    return bytes;
  }
  if (!s.begun) {
    s.sink_error = s.begin();
    if (!s.sink_error.empty()) return 0;
  }
  s.sink_error = s.sink->write(data, bytes);
  return s.sink_error.empty() ? bytes : 0;
}

}  // namespace

HttpResult http_get(const std::string& url, const std::vector<std::string>& headers, size_t max_bytes) {
  Easy x;
  Headers h;
  HttpResult r;
  setup(x, url, headers, h);
  GetState s{&h, &r.body, max_bytes};
  curl_easy_setopt(x.e, CURLOPT_WRITEFUNCTION, on_get_body);
  curl_easy_setopt(x.e, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(x.e, CURLOPT_TIMEOUT, 300L);
  CURLcode code = curl_easy_perform(x.e);
  r.status = h.status;
  r.next_page = h.next_page;
  if (s.too_big) r.error = "the response is larger than " + std::to_string(max_bytes >> 20) + " MiB";
  else if (code != CURLE_OK) r.error = transport_error(code, x.error);
  return r;
}

HttpResult http_download(const std::string& url, const std::vector<std::string>& headers, uint64_t resume_from,
                         DownloadSink& sink) {
  Easy x;
  Headers h;
  HttpResult r;
  setup(x, url, headers, h);
  DownloadState s;
  s.h = &h;
  s.sink = &sink;
  s.resume_from = resume_from;
  std::string range;
  if (resume_from > 0) {
    range = std::to_string(resume_from) + "-";
    curl_easy_setopt(x.e, CURLOPT_RANGE, range.c_str());
  }
  curl_easy_setopt(x.e, CURLOPT_WRITEFUNCTION, on_download_body);
  curl_easy_setopt(x.e, CURLOPT_WRITEDATA, &s);
  CURLcode code = curl_easy_perform(x.e);
  r.status = h.status;
  if (!s.sink_error.empty()) {
    r.error = s.sink_error;
    r.sink_stopped = true;
  } else if (code != CURLE_OK) {
    r.error = transport_error(code, x.error);
  } else if (r.status >= 200 && r.status < 300 && !s.begun) {
    // An empty body: the sink still learns that the file starts (and ends) here.
    std::string e = s.begin();
    if (!e.empty()) {
      r.error = e;
      r.sink_stopped = true;
    }
  }
  r.body = std::move(s.error_body);
  return r;
}

}  // namespace nagare
