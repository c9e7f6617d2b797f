// Downloads the pages `nagare extract` and `nagare fetch` read: many at once on one libcurl
// multi handle, within total and per-host limits, checking robots.txt, refusing private
// addresses, and keeping pages in the on-disk cache when there is one.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nagare {

struct FetchOptions {
  int max_concurrent = 8;          // transfers at once
  int per_host = 2;                // transfers at once to one host (by name, whatever the port)
  double timeout_s = 20;           // one request, each redirect hop anew
  double connect_timeout_s = 10;
  size_t max_bytes = 10u << 20;    // a larger (decompressed) body ends the transfer with an error
  int max_redirects = 5;
  bool respect_robots = true;      // --ignore-robots turns it off
  bool allow_private = false;      // --allow-private: loopback and private addresses may be fetched
  std::string user_agent = "Mozilla/5.0 (compatible; nagare/0.1; knowledge extraction)";
  std::string cache_dir;           // "" = no cache
  double cache_max_age_s = 0;      // cached pages older than this are fetched again; 0 = never
};

struct FetchedPage {
  std::string url;             // as asked
  std::string final_url;       // after redirects
  long status = 0;             // HTTP status, 0 if none
  std::string content_type;    // the media type only, lowercased: "text/html"
  std::string charset_header;  // the raw Content-Type header value (for detect_charset)
  std::string body;            // raw bytes (not converted)
  std::string error;           // why it failed, "" when it did not
  bool from_cache = false;
  double elapsed_ms = 0;       // from its first request starting to its end
  bool ok() const { return error.empty(); }
};

// Only http and https; redirects are followed here rather than by libcurl, so each hop gets the
// robots.txt check of its own site, the per-host limit and the private-address guard. Proxy
// settings in the environment are ignored: through a proxy, the guard would see only the
// proxy's address. One Fetcher is used from one thread at a time (cancel() excepted); it keeps
// connections, cookies and robots.txt rules between calls, so one per run is the idea.
class Fetcher {
 public:
  // Throws nagare::Error when the cache directory cannot be created.
  explicit Fetcher(FetchOptions options);
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // Fetches all URLs concurrently (per-host and total limits), robots.txt checked per origin
  // first. on_done is called once per URL, from the calling thread, as each finishes (progress
  // display); if it throws, the transfers still running are dropped and the exception goes on.
  // Results in input order. Only successful (2xx) pages go into the cache.
  std::vector<FetchedPage> fetch_all(const std::vector<std::string>& urls,
                                     const std::function<void(const FetchedPage&)>& on_done = {});
  // One GET for API calls (search providers): same guard and limits, no robots.txt, no cache;
  // `headers` ("Name: value") added. A failure is in the result's error, as for pages; the body
  // of a non-2xx answer is kept (an API's explanation).
  FetchedPage get(const std::string& url, const std::vector<std::string>& headers);

  // Callable from any other thread (not from a signal handler): the running call, or the next
  // one if none is running, ends soon, with "cancelled" for each page not finished.
  void cancel();

  const FetchOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nagare
