#include "balancer/proxy_source.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <thread>

#include "balancer/routing_key.h"

namespace nagare {

bool ProxyStats::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu);
  return idle.wait_for(lk, timeout, [this] { return running == 0; });
}

namespace {

constexpr size_t kAnswerBytes = 256 * 1024;  // the most of an answer kept to extend the key

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool streamed_type(const std::string& content_type) {
  return content_type.starts_with("text/event-stream") || content_type.starts_with("application/x-ndjson");
}

// The worker's response headers worth passing on to the client.
bool passed_back(const std::string& name) {
  return name == "retry-after" || name == "x-nagare-cache" || name == "www-authenticate" || name == "cache-control" ||
         name == "x-accel-buffering" || name == "etag";
}

}  // namespace

struct ProxySource::State {
  Balancer& balancer;
  ProxyStats& stats;
  ProxyRequest request;
  Balancer::Choice first;
  ErrorResponse error;

  std::mutex mu;
  std::function<void()> wake;
  // Shared with the session (under mu).
  bool head_ready = false;  // released to the session
  HttpResponse head;
  std::string out;          // body bytes not yet polled
  bool done = false;
  int final_status = 502;
  std::atomic<bool> cancelled{false};

  // Transfer thread only: the current attempt's response.
  long status = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  bool streamed = false;
  std::string held;    // a buffered answer's body, or a refused attempt's
  std::string answer;  // what the cache-aware policy reads the answer from
  bool retry_this = false;  // this attempt's answer is a 502/503: try elsewhere first
  std::string worker_url;   // of this attempt, told to the client (X-Nagare-Worker)

  State(Balancer& b, ProxyStats& s, ProxyRequest r, Balancer::Choice c, ErrorResponse e)
      : balancer(b), stats(s), request(std::move(r)), first(std::move(c)), error(std::move(e)) {}

  void notify() {
    std::function<void()> w;
    {
      std::lock_guard lk(mu);
      w = wake;
    }
    if (w) w();
  }

  // Ends the response with an error of the API's shape (nothing was sent yet).
  void fail(int status_code, const std::string& message, const std::string& code) {
    HttpResponse r = error(status_code, message, code);
    {
      std::lock_guard lk(mu);
      head.status = r.status;
      head.content_type = r.content_type;
      head.headers = r.headers;
      head.streamed = false;
      head_ready = true;
      out = std::move(r.body);
      final_status = r.status;
      done = true;
    }
    notify();
  }

  // A streamed answer cut short by its worker: the error in the stream's own format.
  void end_stream_with_error(const std::string& message) {
    const nlohmann::json e = {{"message", message}, {"type", "server_error"}, {"code", "worker_failed"}};
    std::string tail = content_type.starts_with("text/event-stream")
                           ? "data: " + nlohmann::json{{"error", e}}.dump() + "\n\n"
                           : nlohmann::json{{"error", message}}.dump() + "\n";
    {
      std::lock_guard lk(mu);
      out += tail;
      done = true;
    }
    notify();
  }

  void release_head() {
    {
      std::lock_guard lk(mu);
      head.status = int(status);
      head.content_type = content_type.empty() ? "application/json" : content_type;
      head.headers = headers;
      head.headers.emplace_back("X-Nagare-Worker", worker_url);
      head.streamed = streamed;
      head_ready = true;
      final_status = int(status);
    }
    notify();
  }

  static size_t on_header(char* data, size_t size, size_t n, void* p) {
    auto* s = static_cast<State*>(p);
    std::string line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.starts_with("HTTP/")) {  // a new response (after a 100 Continue, say)
      s->headers.clear();
      s->content_type.clear();
      return size * n;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return size * n;
    const std::string name = lower(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (name == "content-type") s->content_type = value;
    else if (passed_back(name)) s->headers.emplace_back(name, value);
    return size * n;
  }

  static size_t on_body(char* data, size_t size, size_t n, void* p) {
    auto* s = static_cast<State*>(p);
    if (s->cancelled.load()) return 0;
    if (s->status == 0) s->decide_head();  // the first byte: status and headers are all in
    const size_t len = size * n;
    if (s->request.chat && s->answer.size() < kAnswerBytes) s->answer.append(data, std::min(len, kAnswerBytes - s->answer.size()));
    if (!s->streamed || s->retry_this) {
      s->held.append(data, len);
      return len;
    }
    {
      std::lock_guard lk(s->mu);
      s->out.append(data, len);
    }
    s->notify();
    return len;
  }

  static int on_progress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<State*>(p)->cancelled.load() ? 1 : 0;
  }

  enum class Outcome { kAnswered, kUnreachable, kRefused, kCutShort, kCancelled };

  // One attempt on worker w. Streams straight to the client once the head is out.
  Outcome attempt(Worker& w) {
    status = 0;
    content_type.clear();
    headers.clear();
    streamed = false;
    held.clear();
    answer.clear();
    retry_this = false;
    worker_url = w.url;

    CURL* c = curl_easy_init();
    if (!c) return Outcome::kUnreachable;
    const std::string url = w.url + request.target;
    curl_slist* hdrs = curl_slist_append(nullptr, "Expect:");
    for (const auto& [name, value] : request.headers) hdrs = curl_slist_append(hdrs, (name + ": " + value).c_str());
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (request.method != "GET") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "POST" || !request.body.empty()) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.size()));
    }
    handle_ = c;
    const CURLcode rc = curl_easy_perform(c);
    if (status == 0 && rc == CURLE_OK) decide_head();  // an answer with no body
    handle_ = nullptr;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);

    if (cancelled.load()) return Outcome::kCancelled;
    if (rc != CURLE_OK) {
      if (status == 0) return Outcome::kUnreachable;   // nothing came back: try elsewhere
      if (!streamed || retry_this) return Outcome::kUnreachable;  // nothing was sent on yet either
      return Outcome::kCutShort;
    }
    if (retry_this) return Outcome::kRefused;
    return Outcome::kAnswered;
  }

  CURL* handle_ = nullptr;
  bool last_attempt_ = false;  // a 502/503 now is passed on, not retried

  // The status and headers are in: a streamed answer's head goes to the client at once; a
  // 502/503 is held back while another worker may still be tried.
  void decide_head() {
    long code = 0;
    curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &code);
    status = code;
    streamed = streamed_type(content_type);
    retry_this = (code == 502 || code == 503) && !last_attempt_;
    if (streamed && !retry_this) release_head();
  }

  void run() {
    std::vector<int> tried;
    std::shared_ptr<Worker> w = first.worker;
    for (int attempt_no = 0;; ++attempt_no) {
      last_attempt_ = attempt_no == 1;
      tried.push_back(w->id);
      w->requests.fetch_add(1);
      w->in_flight.fetch_add(1);
      const Outcome o = attempt(*w);
      w->in_flight.fetch_sub(1);
      if (o == Outcome::kCancelled) return finish_cancelled();
      if (o == Outcome::kAnswered) break;
      if (o == Outcome::kCutShort) {
        stats.failed_mid_stream.fetch_add(1);
        balancer.connect_failed(*w);
        return end_stream_with_error("the worker " + w->url + " failed while answering; the answer is incomplete");
      }
      // Unreachable, or a 502/503 held back: nothing has reached the client, so another worker
      // may answer. Without one, a refusal is passed on as the worker said it.
      if (o == Outcome::kUnreachable) balancer.connect_failed(*w);
      std::shared_ptr<Worker> next = last_attempt_ ? nullptr : balancer.choose(request.key, tried).worker;
      if (!next) {
        if (o == Outcome::kRefused) break;
        stats.no_worker.fetch_add(1);
        return fail(502, "no worker could answer: " + w->url + " could not be reached", "worker_unreachable");
      }
      stats.retries.fetch_add(1);
      w = std::move(next);
    }
    if (request.chat && status == 200 && !request.key.empty()) {
      const std::string text = answer_text(content_type, answer);
      if (!text.empty()) balancer.remember(key_with_answer(request.key, text), *w);
    }
    if (!head_released()) {  // a buffered answer (or a refusal passed on): all at once
      release_head();
      std::lock_guard lk(mu);
      out += held;
    }
    {
      std::lock_guard lk(mu);
      done = true;
    }
    notify();
  }

  bool head_released() {
    std::lock_guard lk(mu);
    return head_ready;
  }

  void finish_cancelled() {
    std::lock_guard lk(mu);
    done = true;
  }
};

ProxySource::ProxySource(Balancer& balancer, ProxyStats& stats, ProxyRequest request, Balancer::Choice first,
                         ErrorResponse error)
    : state_(std::make_shared<State>(balancer, stats, std::move(request), std::move(first), std::move(error))) {}

ProxySource::~ProxySource() { state_->cancelled.store(true); }

void ProxySource::start(std::function<void()> wake) {
  {
    std::lock_guard lk(state_->mu);
    state_->wake = std::move(wake);
  }
  {
    std::lock_guard lk(state_->stats.mu);
    state_->stats.running++;
  }
  std::thread([s = state_] {
    s->run();
    {
      std::lock_guard lk(s->stats.mu);
      s->stats.running--;
    }
    s->stats.idle.notify_all();
  }).detach();
}

bool ProxySource::head(HttpResponse& meta) {
  std::lock_guard lk(state_->mu);
  if (!state_->head_ready) return false;
  meta.status = state_->head.status;
  meta.content_type = state_->head.content_type;
  meta.streamed = state_->head.streamed;
  for (const auto& h : state_->head.headers) meta.headers.push_back(h);
  return true;
}

bool ProxySource::poll(std::string& out) {
  std::lock_guard lk(state_->mu);
  out += state_->out;
  state_->out.clear();
  return state_->done;
}

void ProxySource::cancel() { state_->cancelled.store(true); }

int ProxySource::status() const {
  std::lock_guard lk(state_->mu);
  return state_->final_status;
}

}  // namespace nagare
