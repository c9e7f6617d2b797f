// `nagare router`: one address in front of several `nagare serve` replicas (or any servers of
// the same APIs), sending each request where its prompt's prefix is cached (src/balancer).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "balancer/balancer.h"
#include "balancer/balancer_routes.h"
#include "balancer/proxy_source.h"
#include "balancer/worker_monitor.h"
#include "cli/commands.h"
#include "cli/http_flags.h"
#include "server/http_server.h"
#include "server/serving_state.h"
#include "util/error.h"

namespace nagare {
namespace {

struct RouterArgs {
  std::vector<std::string> workers, worker_dns;
  std::string workers_file;
  std::string policy = "cache-aware";
  double cache_threshold = 0.5;
  int balance_abs = 6;
  double balance_rel = 1.5;
  int64_t tree_mib = 64;
  double health_interval_s = 2;
  double health_timeout_s = 1;
  int health_failures = 2;
  std::string worker_api_key;
  HttpFlags http;
};

int run_router(const RouterArgs& a) {
  const std::optional<Policy> policy = parse_policy(a.policy);
  if (!policy) throw Error("--policy is cache-aware, least-load, round-robin or random, not '" + a.policy + "'");
  if (a.workers.empty() && a.worker_dns.empty() && a.workers_file.empty())
    std::fprintf(stderr, "nagare: no workers yet: add them with POST /workers (or give --worker, --worker-dns, --workers-file)\n");
  for (const std::string& d : a.worker_dns)
    if (d.rfind(':') == std::string::npos || d.rfind(':') == d.size() - 1)
      throw Error("--worker-dns is NAME:PORT, not '" + d + "'");

  std::unique_ptr<AccessControl> access = make_access_control(a.http);

  BalancerOptions bo;
  bo.policy = *policy;
  bo.cache_threshold = a.cache_threshold;
  bo.balance_abs = a.balance_abs;
  bo.balance_rel = a.balance_rel;
  bo.tree_max_chars = size_t(a.tree_mib) << 20;
  bo.health_failures = a.health_failures;
  Balancer balancer(bo);
  const auto probe_timeout = std::chrono::milliseconds(int64_t(std::max(a.health_timeout_s, 2.0) * 1000));
  for (const std::string& w : a.workers) {
    const std::string url = balancer.add(w, "flag")->url;
    if (const std::string why = not_an_api_server(url, probe_timeout, a.worker_api_key); !why.empty()) throw Error(why);
  }
  ProxyStats stats;  // outlives the server: its transfers report into it

  MonitorOptions mo;
  mo.interval = std::chrono::milliseconds(int64_t(a.health_interval_s * 1000));
  mo.timeout = std::chrono::milliseconds(int64_t(a.health_timeout_s * 1000));
  mo.dns = a.worker_dns;
  mo.workers_file = a.workers_file;
  WorkerMonitor monitor(balancer, mo);
  monitor.round();  // know who is healthy before the first request
  monitor.start();

  ServingState state;
  Router router;
  HttpServer server(router, server_options(a.http, state));
  install_http_middleware(router, server, a.http, access.get());
  add_balancer_routes(router, balancer, stats, state, a.worker_api_key);

  std::printf("nagare: router listening on %s (%s, %d of %zu workers healthy)\n", server.url().c_str(),
              a.policy.c_str(), balancer.healthy_workers(), balancer.workers().size());
  std::fflush(stdout);
  server.run();
  std::fprintf(stderr, "nagare: router shutting down\n");
  // Transfers still running were cancelled with their connections; let their threads end
  // before the balancer they report to goes away.
  if (!stats.wait_idle(std::chrono::seconds(10))) std::fprintf(stderr, "nagare: transfers still running at exit\n");
  return 0;
}

}  // namespace

void add_router_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("router", "Balance requests over several servers, each to where its prompt's prefix is cached");
  static RouterArgs a;
  cmd->add_option("--worker", a.workers, "A worker's URL (http://host:port; repeatable)");
  cmd->add_option("--worker-dns", a.worker_dns,
                  "NAME:PORT: every address NAME resolves to is a worker, re-resolved each health interval "
                  "(a Kubernetes headless Service; repeatable)");
  cmd->add_option("--workers-file", a.workers_file, "A file of worker URLs, one per line, re-read when it changes");
  add_http_flags(cmd, a.http);
  cmd->add_option("--policy", a.policy, "cache-aware, least-load, round-robin or random")->capture_default_str();
  cmd->add_option("--cache-threshold", a.cache_threshold,
                  "cache-aware: the share of a prompt a worker must have seen for the prompt to go there")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--balance-abs", a.balance_abs,
                  "cache-aware: route by load instead when the busiest and idlest workers differ by more than this many "
                  "requests...")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd->add_option("--balance-rel", a.balance_rel, "...and the busiest has more than this many times the idlest's")
      ->check(CLI::Range(1.0, 1e6))->capture_default_str();
  cmd->add_option("--prefix-tree-size", a.tree_mib, "MiB of prompt text the cache-aware policy remembers (LRU)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  cmd->add_option("--health-interval", a.health_interval_s, "Seconds between health checks (and DNS, file re-reads)")
      ->check(CLI::Range(0.05, 3600.0))->capture_default_str();
  cmd->add_option("--health-timeout", a.health_timeout_s, "Seconds one health check may take")
      ->check(CLI::Range(0.05, 600.0))->capture_default_str();
  cmd->add_option("--health-failures", a.health_failures, "Failed checks in a row that take a worker out of rotation")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--worker-api-key", a.worker_api_key,
                  "Sent to the workers in place of the client's key (when the workers need their own)");
  cmd->callback([&action] { action = [] { return run_router(a); }; });
}

}  // namespace nagare
