#include "balancer/worker_monitor.h"

#include <netdb.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>

#include "util/error.h"

namespace nagare {
namespace {

size_t collect(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() > (4u << 20)) return 0;  // a /metrics page is far smaller: stop
  s->append(data, size * n);
  return size * n;
}

// GET url; the status (0 when it could not be fetched) and the body.
long get(const std::string& url, std::chrono::milliseconds timeout, std::string* body, const std::string& api_key = "") {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* c = curl_easy_init();
  if (!c) return 0;
  std::string sink;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, long(timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body ? body : &sink);
  curl_slist* headers = nullptr;
  if (!api_key.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key).c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return status;
}

}  // namespace

std::string not_an_api_server(const std::string& url, std::chrono::milliseconds timeout, const std::string& api_key) {
  std::string body;
  const long status = get(url + "/v1/models", timeout, &body, api_key);
  if (status == 0) return "";  // not reachable now: the health checks will tell
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (status == 200 && j.is_object() && j.contains("data") && j["data"].is_array()) return "";
  if ((status == 401 || status == 403) && j.is_object() && j.contains("error")) return "";
  std::string start = body.substr(0, 80);
  for (char& c : start)
    if (c == '\n' || c == '\r') c = ' ';
  return url + " is not a server of the OpenAI API: GET /v1/models answered " + std::to_string(status) +
         (start.empty() ? "" : " '" + start + "'") + ", not a list of models";
}

double sum_metric(const std::string& text, std::string_view family) {
  double sum = -1;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (!line.starts_with(family) || line.size() <= family.size()) continue;
    const char next = line[family.size()];
    if (next != '{' && next != ' ') continue;
    const size_t space = line.rfind(' ');
    try {
      sum = std::max(sum, 0.0) + std::stod(std::string(line.substr(space + 1)));
    } catch (const std::exception&) {
    }
  }
  return sum;
}

WorkerMonitor::WorkerMonitor(Balancer& balancer, MonitorOptions options)
    : balancer_(balancer), options_(std::move(options)) {}

WorkerMonitor::~WorkerMonitor() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WorkerMonitor::start() {
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!wake_.wait_for(lk, options_.interval, [this] { return stop_; })) {
      lk.unlock();
      round();
      lk.lock();
    }
  });
}

void WorkerMonitor::round() {
  if (!options_.dns.empty()) sync_dns();
  if (!options_.workers_file.empty()) sync_file();
  for (const auto& w : balancer_.workers()) check(*w);
}

void WorkerMonitor::check(Worker& w) {
  const bool ok = get(w.url + "/health", options_.timeout, nullptr) == 200;
  balancer_.check_result(w, ok);
  if (!ok) return;
  std::string metrics;
  if (get(w.url + "/metrics", options_.timeout, &metrics) != 200) return;
  const double running = sum_metric(metrics, "nagare:num_requests_running");
  const double waiting = sum_metric(metrics, "nagare:num_requests_waiting");
  if (running >= 0) w.reported_load.store(int(running + std::max(waiting, 0.0)));
}

void WorkerMonitor::sync(const std::string& source, const std::vector<std::string>& urls) {
  std::set<std::string> wanted;
  for (const std::string& u : urls) {
    try {
      wanted.insert(balancer_.add(u, source)->url);
    } catch (const Error& e) {
      std::fprintf(stderr, "nagare: %s: %s\n", source.c_str(), e.what());
    }
  }
  for (const auto& w : balancer_.workers())
    if (w->source == source && !wanted.count(w->url)) balancer_.remove(w->url);
}

void WorkerMonitor::sync_dns() {
  for (const std::string& entry : options_.dns) {
    const size_t colon = entry.rfind(':');
    const std::string host = entry.substr(0, colon), port = entry.substr(colon + 1);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) {
      // A name that does not resolve (no ready pod yet) has no workers: keep none of the old.
      sync("dns:" + entry, {});
      continue;
    }
    std::vector<std::string> urls;
    for (addrinfo* a = res; a; a = a->ai_next) {
      char ip[INET6_ADDRSTRLEN] = {};
      if (a->ai_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, ip, sizeof ip);
      else if (a->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, ip, sizeof ip);
      else
        continue;
      urls.push_back(a->ai_family == AF_INET6 ? "http://[" + std::string(ip) + "]:" + port
                                              : "http://" + std::string(ip) + ":" + port);
    }
    freeaddrinfo(res);
    sync("dns:" + entry, urls);
  }
}

void WorkerMonitor::sync_file() {
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(options_.workers_file, ec);
  if (ec) {
    std::fprintf(stderr, "nagare: workers file %s: %s\n", options_.workers_file.c_str(), ec.message().c_str());
    return;  // keep what it said last
  }
  if (t == file_time_) return;
  file_time_ = t;
  std::ifstream in(options_.workers_file);
  std::vector<std::string> urls;
  for (std::string line; std::getline(in, line);) {
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    const size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
    if (b != std::string::npos) urls.push_back(line.substr(b, e - b + 1));
  }
  sync("file", urls);
}

}  // namespace nagare
