#include "bench/runner.h"

#include <curl/curl.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <thread>

#include "bench/openai_response.h"
#include "util/error.h"

namespace nagare::bench {
namespace {

using json = nlohmann::json;

double steady_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool is_loopback_url(const std::string& url) {
  size_t p = url.find("://");
  std::string rest = url.substr(p == std::string::npos ? 0 : p + 3);
  for (const char* h : {"127.", "localhost", "[::1]"})
    if (rest.compare(0, std::char_traits<char>::length(h), h) == 0) return true;
  return false;
}

std::string transport_error(CURLcode code, double timeout_s) {
  switch (code) {
    case CURLE_OK: return "";
    case CURLE_COULDNT_CONNECT: return "connection refused (could not connect)";
    case CURLE_COULDNT_RESOLVE_HOST: return "could not resolve host";
    case CURLE_OPERATION_TIMEDOUT: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "timed out after %gs", timeout_s);
      return buf;
    }
    case CURLE_GOT_NOTHING: return "server closed the connection without a response";
    case CURLE_PARTIAL_FILE: return "response cut short (connection closed)";
    case CURLE_RECV_ERROR: return "connection reset while receiving";
    case CURLE_SEND_ERROR: return "connection reset while sending";
    case CURLE_WEIRD_SERVER_REPLY: return "not an HTTP response";
    default: return std::string("transfer failed: ") + curl_easy_strerror(code);
  }
}

// Exponential inter-arrival gaps from a seeded SplitMix64 stream (Poisson arrivals).
struct Arrivals {
  uint64_t s;
  double rate;
  double next_gap() {
    if (std::isinf(rate)) return 0;
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    double u = (double(z >> 11) + 0.5) * 0x1.0p-53;  // (0, 1)
    return -std::log(u) / rate;
  }
};

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl failed to initialize");
  });
}

}  // namespace

std::string build_request_body(const json& workload_body, const RunnerOptions& o, const std::set<std::string>& dropped) {
  json body = workload_body;
  body["model"] = o.model;
  body["stream"] = o.stream;
  auto keep = [&](const char* f) { return dropped.count(f) == 0; };
  if (o.stream && keep("stream_options")) body["stream_options"] = {{"include_usage", true}};
  if (o.ignore_eos) {
    if (keep("ignore_eos")) body["ignore_eos"] = true;
    if (keep("min_tokens") && body.contains("max_tokens")) body["min_tokens"] = body["max_tokens"];
  }
  return body.dump();
}

std::string endpoint_url(const std::string& base_url, Endpoint endpoint) {
  std::string url = base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.find("://") == std::string::npos) url = "http://" + url;
  auto ends_with = [&](const std::string& s) {
    return url.size() >= s.size() && url.compare(url.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with("/chat/completions") || ends_with("/completions")) return url;
  std::string route = endpoint == Endpoint::kChat ? "/chat/completions" : "/completions";
  if (ends_with("/v1")) return url + route;
  return url + "/v1" + route;
}

std::vector<std::string> list_models(const std::string& base_url, const std::string& api_key, double timeout_s) {
  global_init();
  std::string url = endpoint_url(base_url, Endpoint::kChat);
  url.resize(url.size() - std::string("/chat/completions").size());
  if (url.size() >= 12 && url.compare(url.size() - 12, 12, "/completions") == 0) url.resize(url.size() - 12);
  url += "/models";
  CURL* e = curl_easy_init();
  if (!e) throw Error("libcurl: cannot create a transfer");
  std::string body;
  curl_slist* headers = nullptr;
  if (!api_key.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key).c_str());
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(std::min(timeout_s, 30.0) * 1000));
  if (is_loopback_url(url)) curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* out) {
    auto* b = static_cast<std::string*>(out);
    if (b->size() < (size_t(1) << 20)) b->append(d, s * n);
    return s * n;
  });
  CURLcode code = curl_easy_perform(e);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(e);
  std::string hint = " (give --model to skip asking the server)";
  if (code != CURLE_OK) throw Error("cannot list models at " + url + ": " + transport_error(code, std::min(timeout_s, 30.0)) + hint);
  if (status != 200) throw Error("cannot list models at " + url + ": HTTP " + std::to_string(status) + hint);
  std::vector<std::string> ids;
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("data") && j["data"].is_array())
    for (const json& m : j["data"])
      if (m.is_object() && m.contains("id") && m["id"].is_string()) ids.push_back(m["id"].get<std::string>());
  if (ids.empty()) throw Error("the server at " + url + " lists no models" + hint);
  return ids;
}

struct Runner::Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  std::unique_ptr<OpenAiResponse> response;
  Runner* runner = nullptr;
  uint64_t index = 0;
  int attempt = 0;
  int64_t max_tokens = 0;
  double start_s = 0;

  static size_t on_write(char* data, size_t size, size_t n, void* self) {
    auto* t = static_cast<Transfer*>(self);
    // No exception may cross libcurl's C frames; a failure here aborts just this transfer.
    try {
      t->response->on_data(std::string_view(data, size * n), t->runner->now_s());
    } catch (...) {
      return 0;
    }
    return size * n;
  }
};

Runner::Runner(RunnerOptions options, const Workload& workload, Progress& progress)
    : opt_(std::move(options)), workload_(workload), progress_(progress) {
  global_init();
  multi_ = curl_multi_init();
  if (!multi_) throw Error("libcurl: cannot create a transfer set");
}

Runner::~Runner() {
  for (Transfer* t : idle_) {
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    delete t;
  }
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

double Runner::now_s() const { return steady_s() - level_start_; }

Runner::Transfer* Runner::launch(uint64_t request_index, double now, int attempt) {
  Transfer* t;
  if (!idle_.empty()) {
    t = idle_.back();
    idle_.pop_back();
    curl_easy_reset(t->easy);
  } else {
    t = new Transfer;
    t->easy = curl_easy_init();
    if (!t->easy) {
      delete t;
      throw Error("libcurl: cannot create a transfer");
    }
  }
  t->runner = this;
  t->index = request_index;
  t->attempt = attempt;
  json req = workload_.request(request_index);
  t->max_tokens = req.contains("max_tokens") && req["max_tokens"].is_number_integer() ? req["max_tokens"].get<int64_t>() : 0;
  t->body = build_request_body(req, opt_, dropped_);
  t->response = std::make_unique<OpenAiResponse>(opt_.endpoint, opt_.stream);
  curl_slist_free_all(t->headers);
  t->headers = nullptr;
  t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
  t->headers = curl_slist_append(t->headers, opt_.stream ? "Accept: text/event-stream" : "Accept: application/json");
  t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue round trip for big prompts
  if (!opt_.api_key.empty()) t->headers = curl_slist_append(t->headers, ("Authorization: Bearer " + opt_.api_key).c_str());
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, opt_.endpoint_url.c_str());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(t->body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(opt_.timeout_s * 1000));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long(std::min(opt_.timeout_s, 30.0) * 1000));
  // A proxy from the environment must not sit between the benchmark and a local server.
  if (is_loopback_url(opt_.endpoint_url)) curl_easy_setopt(e, CURLOPT_PROXY, "");
  t->start_s = now;
  curl_multi_add_handle(static_cast<CURLM*>(multi_), e);
  return t;
}

void Runner::release(Transfer* t) {
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy);
  t->response.reset();
  idle_.push_back(t);
}

LevelRun Runner::run(const LevelPlan& plan) {
  CURLM* multi = static_cast<CURLM*>(multi_);
  LevelRun out;
  const bool open_loop = plan.request_rate > 0;
  const int64_t limit = plan.num_requests > 0 ? plan.num_requests : INT64_MAX;
  if (!open_loop && plan.concurrency < 1) throw Error("a level needs a concurrency or a request rate");
  if (plan.num_requests <= 0 && plan.duration_s <= 0) throw Error("a level needs --num-requests or --duration");
  const int cap = open_loop ? std::max(1, opt_.max_in_flight) : plan.concurrency;
  Arrivals arrivals{plan.seed * 0x2545F4914F6CDD1Dull + 1, plan.request_rate};
  double next_arrival = 0;
  std::vector<Transfer*> in_flight;
  int64_t issued = 0;
  long failed = 0;
  bool capped_note = false;
  progress_.begin(plan.label, plan.num_requests > 0 ? long(plan.num_requests) : 0, plan.duration_s);
  level_start_ = steady_s();
  double last_end = 0;

  auto abort_in_flight = [&] {
    out.cut_off += in_flight.size();
    for (Transfer* t : in_flight) release(t);
    in_flight.clear();
  };

  while (true) {
    double now = now_s();
    bool interrupted = opt_.interrupted && opt_.interrupted->load();
    bool expired = plan.duration_s > 0 && now >= plan.duration_s;
    if (interrupted || expired) {
      out.interrupted = interrupted;
      abort_in_flight();
      last_end = plan.duration_s > 0 ? std::min(now, plan.duration_s) : now;
      break;
    }
    // Launch what the plan allows now.
    while (issued < limit && int(in_flight.size()) < cap) {
      if (open_loop && next_arrival > now) break;
      in_flight.push_back(launch(next_index_++, now, 0));
      ++issued;
      if (open_loop) next_arrival += arrivals.next_gap();
    }
    if (open_loop && issued < limit && int(in_flight.size()) >= cap && next_arrival <= now && !capped_note) {
      capped_note = true;
      notes_.push_back(plan.label + ": " + std::to_string(cap) +
                       " requests in flight (--max-concurrency); later arrivals waited for a free slot");
    }
    if (in_flight.empty() && issued >= limit) break;

    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    bool finished_any = false;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      long status = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
      double end = now_s();
      RequestRecord rec = t->response->finish(status, transport_error(msg->data.result, opt_.timeout_s), t->start_s, end);
      rec.requested_tokens = t->max_tokens;
      std::erase(in_flight, t);
      // A strict server rejecting an optional field: stop sending it and retry this request.
      bool retried = false;
      if (!rec.ok && (status == 400 || status == 422) && t->attempt < 3) {
        json sent = json::parse(t->body, nullptr, false);
        for (const char* f : kOptionalFields) {
          if (sent.is_object() && sent.contains(f) && rec.error.find(f) != std::string::npos && !dropped_.count(f)) {
            dropped_.insert(f);
            std::string n = std::string("the server rejected \"") + f + "\"; continuing without it";
            notes_.push_back(n);
            progress_.note(n);
            uint64_t index = t->index;
            int attempt = t->attempt + 1;
            release(t);
            in_flight.push_back(launch(index, end, attempt));
            retried = true;
            break;
          }
        }
      }
      finished_any = true;
      if (retried) continue;
      release(t);
      if (!rec.ok) ++failed;
      last_end = std::max(last_end, end);
      out.records.push_back(std::move(rec));
    }
    now = now_s();
    progress_.update(long(out.records.size()), failed, long(in_flight.size()), now);
    // A finished request frees a slot: refill it now, not after the next wait.
    if (finished_any) continue;
    // Sleep until the next socket event, arrival, or deadline; 50 ms bounds the reaction to ^C.
    double wait = 0.05;
    if (open_loop && issued < limit && int(in_flight.size()) < cap) wait = std::min(wait, next_arrival - now);
    if (plan.duration_s > 0) wait = std::min(wait, plan.duration_s - now);
    if (wait > 0 && !in_flight.empty()) {
      curl_multi_poll(multi, nullptr, 0, int(std::ceil(wait * 1000)), nullptr);
    } else if (wait > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    }
  }
  out.wall_time_s = last_end;
  progress_.end(long(out.records.size()), failed, last_end);
  return out;
}

}  // namespace nagare::bench
