#include "pipeline/fetcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <optional>

#include "pipeline/address_guard.h"
#include "pipeline/page_cache.h"
#include "pipeline/robots_txt.h"
#include "pipeline/url.h"
#include "util/ascii.h"
#include "util/error.h"

namespace nagare {
namespace {

using Clock = std::chrono::steady_clock;

// RFC 9309 2.4: a robots.txt is not to be trusted for more than a day; 2.3.1.2: at least five
// redirects are followed to find it.
constexpr double kRobotsMaxAgeS = 24 * 3600;
constexpr int kRobotsMaxRedirects = 5;
constexpr const char* kAcceptPages =
    "text/html,application/xhtml+xml,text/plain;q=0.9,text/markdown;q=0.9,application/pdf;q=0.8,*/*;q=0.5";

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl failed to initialize");
  });
}

// "text/HTML; charset=UTF-8" -> "text/html".
std::string media_type(std::string_view header) {
  header = header.substr(0, header.find(';'));
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
  std::string s(header);
  for (char& c : s) c = ascii_lower(c);
  return s;
}

std::string transport_error(CURLcode code, const char* detail, long os_errno) {
  const std::string d = detail && *detail ? detail : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST: return "could not resolve the host name (" + d + ")";
    case CURLE_COULDNT_CONNECT:
      return os_errno ? "could not connect: " + std::string(std::strerror(int(os_errno))) + " (" + d + ")"
                      : "could not connect (" + d + ")";
    case CURLE_OPERATION_TIMEDOUT: return "timed out (" + d + "; --fetch-timeout gives more time)";
    case CURLE_PARTIAL_FILE: return "the connection closed before the whole body came (" + d + ")";
    case CURLE_RECV_ERROR: return "the connection broke while receiving (" + d + ")";
    case CURLE_GOT_NOTHING: return "the server closed the connection without a response";
    case CURLE_UNSUPPORTED_PROTOCOL: return "unsupported protocol (only http and https are fetched)";
    case CURLE_PEER_FAILED_VERIFICATION: return "TLS certificate not trusted (" + d + ")";
    case CURLE_SSL_CONNECT_ERROR: return "TLS handshake failed (" + d + ")";
    default: return d;
  }
}

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

enum class Kind { kPage, kRobots, kApi };

// One HTTP request to make: a page, an API call, a redirect hop of either, or a robots.txt.
struct Request {
  Kind kind = Kind::kPage;
  size_t page = 0;    // the result it is for (pages and API calls)
  std::string site;   // the origin whose robots.txt applies (for a robots.txt: the one it is for)
  std::string url;    // as libcurl writes it back
  std::string host;   // for the per-host limit
  std::string path;   // path and query, for the robots.txt check
  int redirects = 0;  // hops before this one
  const std::vector<std::string>* headers = nullptr;
};

// Throws nagare::Error for a URL that is not http(s).
Request make_request(Kind kind, size_t page, const std::string& url, int redirects) {
  const Url u = Url::parse(url);
  Request r;
  r.kind = kind;
  r.page = page;
  r.site = u.origin();
  r.url = u.href;
  r.host = u.host;
  r.path = u.path_and_query();
  r.redirects = redirects;
  return r;
}

// A request in flight: its easy handle, the body so far, and the guard on its connections.
struct Transfer {
  Transfer(Request r, CURLM* m, bool allow_private) : request(std::move(r)), multi(m), guard(allow_private) {}
  ~Transfer() {
    if (easy) {
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
    }
    if (headers) curl_slist_free_all(headers);
  }

  Request request;
  CURLM* multi;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  AddressGuard guard;
  std::string body;
  size_t limit = 0;
  bool too_big = false;
  char error[CURL_ERROR_SIZE] = {};
};

// Stops the transfer (a write error) once the body passes the limit; for a robots.txt the part
// under the limit is kept, since RFC 9309 has the first 500 KiB parsed.
size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (t.body.size() + bytes > t.limit) {
    t.body.append(data, t.limit - t.body.size());
    t.too_big = true;
    return 0;
  }
  t.body.append(data, bytes);
  return bytes;
}

struct RobotsEntry {
  bool done = false;    // false while its robots.txt is being fetched
  RobotsRules rules;
  std::string failure;  // why nothing of the site may be fetched; "" when the rules decide
};

// What outlives one call: connections, cookies, the cache and robots.txt rules per origin.
struct Session {
  explicit Session(FetchOptions o) : options(std::move(o)) {
    global_init();
    multi = curl_multi_init();
    share = curl_share_init();
    if (!multi || !share) throw Error("libcurl could not start");
    // Cookies carry across the redirect hops that this fetcher follows itself (consent pages).
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    if (!options.cache_dir.empty()) cache.emplace(options.cache_dir, options.cache_max_age_s);
  }
  ~Session() {
    curl_multi_cleanup(multi);
    curl_share_cleanup(share);
  }

  FetchOptions options;
  CURLM* multi = nullptr;
  CURLSH* share = nullptr;
  std::optional<PageCache> cache;
  std::map<std::string, RobotsEntry> robots;
  std::atomic<bool> cancelled{false};
};

// One fetch_all() or get(): queues, limits, and the loop over the multi handle.
class Run {
 public:
  Run(Session& s, std::vector<FetchedPage>& results, std::function<void(const FetchedPage&)> on_done)
      : s_(s), results_(results), on_done_(std::move(on_done)), finished_(results.size()), started_(results.size()),
        remaining_(results.size()) {}

  // Whatever is still in flight (an exception from on_done) is dropped, and robots.txt files
  // not fetched to the end are forgotten, so the next call asks again.
  ~Run() {
    active_.clear();
    for (const auto& site : robots_asked_) {
      auto it = s_.robots.find(site);
      if (it != s_.robots.end() && !it->second.done) s_.robots.erase(it);
    }
  }

  void add(Request r) { queue_.push_back(std::move(r)); }

  void fail(size_t page, const std::string& error) {
    results_[page].error = error;
    finish(page);
  }

  void finish(size_t page) {
    if (finished_[page]) return;
    finished_[page] = true;
    --remaining_;
    if (started_[page]) results_[page].elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - *started_[page]).count();
    if (on_done_) on_done_(results_[page]);
  }

  void go() {
    while (remaining_ > 0) {
      if (s_.cancelled.exchange(false)) {
        cancel_all("cancelled");
        return;
      }
      schedule();
      if (remaining_ == 0) break;
      if (active_.empty()) {  // nothing in flight and nothing could start: never expected
        cancel_all("internal error: nothing left to fetch");
        return;
      }
      int running = 0;
      curl_multi_perform(s_.multi, &running);
      bool progressed = false;
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(s_.multi, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* easy = m->easy_handle;
        const CURLcode code = m->data.result;
        complete(easy, code);
        progressed = true;
      }
      if (!progressed && remaining_ > 0) curl_multi_poll(s_.multi, nullptr, 0, 1000, nullptr);
    }
  }

 private:
  bool can_start(const std::string& host) {
    return int(active_.size()) < std::max(1, s_.options.max_concurrent) &&
           per_host_[host] < std::max(1, s_.options.per_host);
  }

  void schedule() {
    if (s_.options.respect_robots)
      for (const Request& r : queue_)
        if (r.kind == Kind::kPage && !s_.robots.count(r.site)) ask_robots(r.site);
    // A site's pages wait for its robots.txt: those requests go first.
    for (auto it = robots_queue_.begin(); it != robots_queue_.end();) {
      if (!can_start(it->host)) {
        ++it;
        continue;
      }
      start(*it);
      it = robots_queue_.erase(it);
    }
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->kind == Kind::kPage && s_.options.respect_robots) {
        const RobotsEntry& e = s_.robots.at(it->site);
        if (!e.done) {
          ++it;
          continue;
        }
        std::string refusal;
        if (!e.failure.empty()) refusal = e.failure;
        else if (!e.rules.allowed(it->path))
          refusal = "robots.txt disallows it (" + it->site + "/robots.txt; --ignore-robots fetches anyway)";
        if (!refusal.empty()) {
          const size_t page = it->page;
          results_[page].final_url = it->url;
          it = queue_.erase(it);
          fail(page, refusal);
          continue;
        }
      }
      if (!can_start(it->host)) {
        ++it;
        continue;
      }
      start(*it);
      it = queue_.erase(it);
    }
  }

  void ask_robots(const std::string& site) {
    RobotsEntry& e = s_.robots[site];
    const std::string url = site + "/robots.txt";
    if (s_.cache) {
      const double cache_age = s_.options.cache_max_age_s;
      if (auto c = s_.cache->get(url, cache_age > 0 ? std::min(cache_age, kRobotsMaxAgeS) : kRobotsMaxAgeS)) {
        e.rules = c->status >= 200 && c->status < 300 ? RobotsRules::parse(c->body) : RobotsRules::allow_all();
        e.done = true;
        return;
      }
    }
    robots_asked_.push_back(site);
    Request r = make_request(Kind::kRobots, 0, url, 0);
    r.site = site;
    robots_queue_.push_back(std::move(r));
  }

  void start(const Request& r) {
    const FetchOptions& o = s_.options;
    auto t = std::make_unique<Transfer>(r, s_.multi, o.allow_private);
    CURL* e = t->easy = curl_easy_init();
    if (!e) throw Error("libcurl could not start a transfer");
    t->limit = r.kind == Kind::kRobots ? RobotsRules::kMaxBytes : o.max_bytes;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_USERAGENT, o.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, "");  // the guard must see the server's own address
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_SHARE, s_.share);
    curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");
    if (o.timeout_s > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(o.timeout_s * 1000));
    if (o.connect_timeout_s > 0) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long(o.connect_timeout_s * 1000));
    // A Content-Length over the limit ends the transfer before any of the body comes.
    if (r.kind != Kind::kRobots) curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(o.max_bytes));
    if (r.kind == Kind::kPage) t->headers = curl_slist_append(nullptr, (std::string("Accept: ") + kAcceptPages).c_str());
    if (r.headers)
      for (const auto& h : *r.headers) t->headers = curl_slist_append(t->headers, h.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    t->guard.install(e);
    if (curl_multi_add_handle(s_.multi, e) != CURLM_OK) {
      curl_easy_cleanup(e);
      t->easy = nullptr;
      throw Error("libcurl could not start a transfer");
    }
    ++per_host_[r.host];
    if (r.kind != Kind::kRobots && !started_[r.page]) started_[r.page] = Clock::now();
    active_.push_back(std::move(t));
  }

  void complete(CURL* easy, CURLcode code) {
    auto it = std::find_if(active_.begin(), active_.end(), [&](const auto& t) { return t->easy == easy; });
    if (it == active_.end()) return;
    Transfer& t = **it;
    long status = 0, os_errno = 0;
    char* content_type = nullptr;
    char* location = nullptr;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &content_type);
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location);
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);

    Request r = std::move(t.request);
    std::string error;
    if (code != CURLE_OK && !(t.too_big && r.kind == Kind::kRobots)) {
      if (t.too_big || code == CURLE_FILESIZE_EXCEEDED)
        error = "larger than " + std::to_string(s_.options.max_bytes) + " bytes (--max-page-bytes)";
      else if (!t.guard.refusal().empty())
        error = t.guard.refusal();
      else
        error = transport_error(code, t.error, os_errno);
    }
    const std::string redirect = error.empty() && is_redirect(status) && location ? location : "";
    const std::string header = content_type ? content_type : "";
    std::string body = t.too_big && r.kind != Kind::kRobots ? std::string() : std::move(t.body);
    --per_host_[r.host];
    active_.erase(it);  // the handle leaves the multi handle here

    if (!redirect.empty()) {
      const int limit = r.kind == Kind::kRobots ? kRobotsMaxRedirects : s_.options.max_redirects;
      if (r.redirects >= limit) {
        error = "too many redirects (more than " + std::to_string(limit) + ")";
      } else {
        try {
          Request next = make_request(r.kind, r.page, redirect, r.redirects + 1);
          next.headers = r.headers;
          if (r.kind == Kind::kRobots) {
            next.site = r.site;
            robots_queue_.push_front(std::move(next));
          } else {
            results_[r.page].final_url = next.url;
            queue_.push_front(std::move(next));
          }
          return;
        } catch (const Error&) {
          error = "redirected to " + redirect + ", which is not an http or https URL";
        }
      }
    }
    if (r.kind == Kind::kRobots) robots_done(r, status, header, body, error);
    else page_done(r, status, header, std::move(body), error);
  }

  void page_done(const Request& r, long status, const std::string& header, std::string body, const std::string& error) {
    FetchedPage& p = results_[r.page];
    p.final_url = r.url;
    p.status = status;
    p.charset_header = header;
    p.content_type = media_type(header);
    p.body = std::move(body);
    if (!error.empty()) return fail(r.page, error);
    if (status < 200 || status >= 300)
      return fail(r.page, "HTTP " + std::to_string(status) + (is_redirect(status) ? " without a Location header" : ""));
    if (r.kind == Kind::kPage && s_.cache) s_.cache->put({p.url, p.final_url, status, header, 0, p.body});
    finish(r.page);
  }

  // RFC 9309 2.3.1: a 2xx file's rules; 4xx (no file) allows all; a server error or no answer
  // disallows all, since the site may be overloaded or its rules unknown.
  void robots_done(const Request& r, long status, const std::string& header, const std::string& body,
                   const std::string& error) {
    RobotsEntry& e = s_.robots[r.site];
    e.done = true;
    const std::string why = " (" + r.site + "/robots.txt); RFC 9309 says to fetch nothing from the site then "
                            "(--ignore-robots fetches anyway)";
    if (error.rfind("private address refused", 0) == 0) {
      e.failure = error;  // the pages would be refused the same way: say so, not "robots.txt"
    } else if (error.rfind("too many redirects", 0) == 0) {
      e.rules = RobotsRules::allow_all();  // 2.3.1.2: the file may be taken as unavailable (4xx)
    } else if (!error.empty()) {
      e.failure = "robots.txt could not be fetched: " + error + why;
    } else if (status == 429 || status >= 500) {
      e.failure = "robots.txt answered HTTP " + std::to_string(status) + why;
    } else {
      const bool found = status >= 200 && status < 300;
      e.rules = found ? RobotsRules::parse(body) : RobotsRules::allow_all();
      if (s_.cache) s_.cache->put({r.site + "/robots.txt", r.url, status, header, 0, found ? body : ""});
    }
  }

  // Everything not finished ends with `why`; transfers in flight are dropped.
  void cancel_all(const std::string& why) {
    for (size_t i = 0; i < results_.size(); ++i)
      if (!finished_[i]) fail(i, why);
    queue_.clear();
    robots_queue_.clear();
    active_.clear();
  }

  Session& s_;
  std::vector<FetchedPage>& results_;
  std::function<void(const FetchedPage&)> on_done_;
  std::vector<bool> finished_;
  std::vector<std::optional<Clock::time_point>> started_;
  size_t remaining_;
  std::list<Request> queue_;         // pages and API calls, in the order asked; redirects in front
  std::list<Request> robots_queue_;  // robots.txt files to fetch
  std::vector<std::string> robots_asked_;
  std::vector<std::unique_ptr<Transfer>> active_;
  std::map<std::string, int> per_host_;
};

}  // namespace

struct Fetcher::Impl : Session {
  using Session::Session;
};

Fetcher::Fetcher(FetchOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Fetcher::~Fetcher() = default;

const FetchOptions& Fetcher::options() const { return impl_->options; }

void Fetcher::cancel() {
  impl_->cancelled = true;
  curl_multi_wakeup(impl_->multi);
}

std::vector<FetchedPage> Fetcher::fetch_all(const std::vector<std::string>& urls,
                                            const std::function<void(const FetchedPage&)>& on_done) {
  std::vector<FetchedPage> results(urls.size());
  Run run(*impl_, results, on_done);
  for (size_t i = 0; i < urls.size(); ++i) {
    FetchedPage& p = results[i];
    p.url = p.final_url = urls[i];
    Request r;
    try {
      r = make_request(Kind::kPage, i, urls[i], 0);
    } catch (const Error& e) {
      run.fail(i, e.what());
      continue;
    }
    if (impl_->cache) {
      const auto start = Clock::now();
      auto c = impl_->cache->get(urls[i]);
      if (c && c->status >= 200 && c->status < 300) {  // robots.txt entries can be 4xx
        p.final_url = c->final_url;
        p.status = c->status;
        p.charset_header = c->content_type;
        p.content_type = media_type(c->content_type);
        p.body = std::move(c->body);
        p.from_cache = true;
        p.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        run.finish(i);
        continue;
      }
    }
    run.add(std::move(r));
  }
  run.go();
  return results;
}

FetchedPage Fetcher::get(const std::string& url, const std::vector<std::string>& headers) {
  std::vector<FetchedPage> results(1);
  results[0].url = results[0].final_url = url;
  Run run(*impl_, results, {});
  try {
    Request r = make_request(Kind::kApi, 0, url, 0);
    r.headers = &headers;
    run.add(std::move(r));
  } catch (const Error& e) {
    run.fail(0, e.what());
  }
  run.go();
  return std::move(results[0]);
}

}  // namespace nagare
