// WorkerMonitor: a thread that keeps the Balancer's worker list true. Every interval it
//  - checks each worker's /health (200 = healthy; a worker failing `health_failures` checks in a
//    row is ejected, and re-admitted by its first good check) and reads its load (running +
//    waiting) from its /metrics;
//  - resolves each --worker-dns NAME:PORT (a Kubernetes headless Service gives one address per
//    ready pod) and adds or removes its workers;
//  - re-reads the --workers-file when it changed (one URL per line, # comments).
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "balancer/balancer.h"

namespace nagare {

struct MonitorOptions {
  std::chrono::milliseconds interval{2000};
  std::chrono::milliseconds timeout{1000};  // one check's limit
  std::vector<std::string> dns;             // "NAME:PORT"
  std::string workers_file;
};

class WorkerMonitor {
 public:
  WorkerMonitor(Balancer& balancer, MonitorOptions options);
  ~WorkerMonitor();  // stops the thread
  // One round now, on the caller's thread (at start, so /health is right from the first request).
  void round();
  void start();

 private:
  void check(Worker& w);
  void sync_dns();
  void sync_file();
  void sync(const std::string& source, const std::vector<std::string>& urls);

  Balancer& balancer_;
  MonitorOptions options_;
  std::filesystem::file_time_type file_time_{};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// Why `url` is not a server of the OpenAI API ("" when it is, or when it cannot be reached now:
// a worker may start later): GET /v1/models must answer 200 with a model list, or 401/403 with
// an error object (a server that wants a key).
std::string not_an_api_server(const std::string& url, std::chrono::milliseconds timeout, const std::string& api_key);

// Sum of a Prometheus text's samples of `family` (any labels); -1 when it has none.
double sum_metric(const std::string& text, std::string_view family);

}  // namespace nagare
