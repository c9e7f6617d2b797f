// `nagare bench`: a load generator and report for any OpenAI-compatible server. Runs a sweep of
// concurrencies (or request rates) and prints throughput and latency; with result files instead
// of a server it draws a chart or compares runs. Failed requests are counted, never fatal.
#include <csignal>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "bench/report.h"
#include "bench/result.h"
#include "bench/runner.h"
#include "bench/svg_chart.h"
#include "bench/workload.h"
#include "cli/commands.h"
#include "util/error.h"

namespace nagare {
namespace {

using bench::BenchResult;
using nlohmann::json;

struct BenchFlags {
  std::string url, model, api_key, endpoint = "chat", workload = "random", out, chart, label;
  std::vector<int> concurrency;
  std::vector<std::string> request_rate;
  int64_t num_requests = 0;
  double duration_s = 0;
  int64_t input_len = -1, output_len = -1, prefix_len = 1500;
  bool ignore_eos = false, stream = true, compare = false, quiet = false;
  int64_t warmup = 0;
  uint64_t seed = 0;
  double timeout_s = 300;
  int max_concurrency = 256;
  std::vector<std::string> files;
};

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
  g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second ^C ends the process at once
}

double parse_rate(const std::string& s) {
  if (s == "inf" || s == "infinity") return std::numeric_limits<double>::infinity();
  size_t used = 0;
  double v = std::stod(s, &used);
  if (used != s.size() || !(v > 0)) throw std::invalid_argument(s);
  return v;
}

// Default requests per level: enough for every worker to finish at least two requests, so the
// level is not one burst; open loop: a fixed count.
int64_t default_requests(int concurrency) { return std::max<int64_t>(10, 2 * int64_t(concurrency)); }
constexpr int64_t kDefaultRateRequests = 100;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw Error("cannot write " + path);
}

int run_files(const BenchFlags& f) {
  std::vector<BenchResult> runs;
  for (const std::string& p : f.files) runs.push_back(bench::load_result(p));
  if (f.compare) std::fputs(bench::format_compare(runs).c_str(), stdout);
  if (!f.chart.empty()) {
    write_text(f.chart, bench::render_chart(runs));
    std::fprintf(stderr, "bench: chart written to %s\n", f.chart.c_str());
  }
  return 0;
}

int run_benchmark(const BenchFlags& f) {
  bench::WorkloadOptions wo;
  wo.kind = f.workload;
  wo.endpoint = f.endpoint == "completions" ? bench::Endpoint::kCompletions : bench::Endpoint::kChat;
  wo.input_len = f.input_len;
  wo.output_len = f.output_len;
  wo.prefix_len = f.prefix_len;
  wo.seed = f.seed;
  bench::Workload workload = bench::Workload::create(wo);

  bench::RunnerOptions ro;
  ro.endpoint_url = bench::endpoint_url(f.url, wo.endpoint);
  ro.api_key = f.api_key;
  ro.endpoint = wo.endpoint;
  ro.stream = f.stream;
  ro.ignore_eos = f.ignore_eos;
  ro.timeout_s = f.timeout_s;
  ro.max_in_flight = f.max_concurrency;
  ro.interrupted = &g_interrupted;
  ro.model = f.model;
  if (ro.model.empty()) ro.model = bench::list_models(f.url, f.api_key, f.timeout_s).front();

  std::vector<bench::LevelPlan> plans;
  bool rate_mode = !f.request_rate.empty();
  if (rate_mode) {
    for (const std::string& r : f.request_rate) {
      bench::LevelPlan p;
      p.request_rate = parse_rate(r);
      p.num_requests = f.num_requests > 0 ? f.num_requests : f.duration_s > 0 ? 0 : kDefaultRateRequests;
      p.duration_s = f.duration_s;
      p.seed = f.seed;
      p.label = "rate " + bench::format_level(p.request_rate) + " req/s";
      plans.push_back(p);
    }
  } else {
    std::vector<int> levels = f.concurrency;
    if (levels.empty()) levels = workload.default_concurrency();
    if (levels.empty()) levels = {1};
    for (int c : levels) {
      bench::LevelPlan p;
      p.concurrency = c;
      p.num_requests = f.num_requests > 0 ? f.num_requests : f.duration_s > 0 ? 0 : default_requests(c);
      p.duration_s = f.duration_s;
      p.label = "concurrency " + std::to_string(c);
      plans.push_back(p);
    }
  }

  BenchResult result;
  result.label = f.label;
  result.url = f.url;
  result.endpoint_url = ro.endpoint_url;
  result.model = ro.model;
  result.endpoint = f.endpoint;
  result.timestamp = bench::utc_timestamp();
  result.rate_mode = rate_mode;
  result.stream = f.stream;
  result.workload = workload.describe();
  result.config = {{"num_requests", f.num_requests},
                   {"duration_s", f.duration_s},
                   {"warmup", f.warmup},
                   {"ignore_eos", f.ignore_eos},
                   {"stream", f.stream},
                   {"timeout_s", f.timeout_s},
                   {"seed", f.seed},
                   {"endpoint", f.endpoint},
                   {"max_concurrency", f.max_concurrency}};
  json levels_cfg = json::array();
  for (const auto& p : plans) levels_cfg.push_back(rate_mode ? json(bench::format_level(p.request_rate)) : json(p.concurrency));
  result.config[rate_mode ? "request_rates" : "concurrency"] = levels_cfg;

  bench::Progress progress = bench::Progress::for_stderr(f.quiet);
  bench::Runner runner(ro, workload, progress);
  g_interrupted.store(false);
  auto old_handler = std::signal(SIGINT, on_sigint);
  if (f.warmup > 0) {
    bench::LevelPlan w;
    w.concurrency = rate_mode ? int(std::min<int64_t>(f.warmup, 16)) : std::max(1, std::min(int(f.warmup), plans[0].concurrency));
    w.num_requests = f.warmup;
    w.label = "warm-up";
    bench::LevelRun run = runner.run(w);
    size_t ok = 0;
    for (const auto& r : run.records) ok += r.ok;
    if (ok == 0 && !run.records.empty())
      progress.note("every warm-up request failed (" + run.records.front().error + "); measuring anyway");
  }
  for (const bench::LevelPlan& p : plans) {
    if (g_interrupted.load()) break;
    bench::LevelRun run = runner.run(p);
    bench::LevelMetrics m = bench::compute_level_metrics(run.records, rate_mode ? p.request_rate : p.concurrency,
                                                         run.wall_time_s, run.cut_off);
    m.interrupted = run.interrupted;
    result.levels.push_back(std::move(m));
  }
  std::signal(SIGINT, old_handler);
  result.interrupted = g_interrupted.load();
  result.notes = runner.notes();
  if (!result.levels.empty()) result.config["dropped_fields"] = runner.dropped_fields();

  std::fputs(bench::format_summary(result).c_str(), stdout);
  std::fflush(stdout);
  if (!f.out.empty()) {
    bench::save_result(result, f.out);
    std::fprintf(stderr, "bench: results written to %s\n", f.out.c_str());
  }
  if (!f.chart.empty() && !result.levels.empty()) {
    write_text(f.chart, bench::render_chart({result}));
    std::fprintf(stderr, "bench: chart written to %s\n", f.chart.c_str());
  }
  if (result.interrupted) return 130;
  size_t ok = 0;
  for (const auto& m : result.levels) ok += m.succeeded;
  if (ok == 0) {
    std::fprintf(stderr, "bench: no request succeeded\n");
    return 1;
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("bench", "Benchmark an OpenAI-compatible server; chart or compare result files");
  static BenchFlags f;
  cmd->footer(
      "Examples:\n"
      "  nagare bench --url http://127.0.0.1:8080 --model m --concurrency 1,5,10 --out a.json --chart a.svg\n"
      "  nagare bench --url http://127.0.0.1:8080 --workload extraction_en.json --ignore-eos\n"
      "  nagare bench --chart both.svg a.json b.json\n"
      "  nagare bench --compare a.json b.json");
  cmd->add_option("--url", f.url, "Server base URL (http://host:port, .../v1, or a full route)");
  cmd->add_option("--model", f.model, "Model name to request (default: the server's first listed model)");
  cmd->add_option("--api-key", f.api_key, "Bearer token")->envname("OPENAI_API_KEY");
  cmd->add_option("--endpoint", f.endpoint, "chat or completions")->check(CLI::IsMember({"chat", "completions"}));
  auto* conc = cmd->add_option("--concurrency", f.concurrency, "Requests in flight, a comma-separated sweep (default: the workload file's list, else 1)")
                   ->delimiter(',')
                   ->check(CLI::Range(1, 100000));
  auto* rate = cmd->add_option("--request-rate", f.request_rate, "Open-loop Poisson arrivals per second, a comma-separated sweep; inf = all at once")
                   ->delimiter(',')
                   ->check(CLI::Validator(
                       [](std::string& s) -> std::string {
                         try {
                           parse_rate(s);
                           return "";
                         } catch (const std::exception&) {
                           return "request rate must be a positive number or inf: " + s;
                         }
                       },
                       "RATE"));
  conc->excludes(rate);
  cmd->add_option("--num-requests", f.num_requests, "Requests per level (default: max(10, 2 x concurrency); 100 per rate)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  cmd->add_option("--duration", f.duration_s, "Seconds per level; requests still running then are not counted")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--workload", f.workload, "random, shared-prefix, or a JSON / JSONL file of requests");
  cmd->add_option("--input-len", f.input_len, "Prompt words (random, default 256) or unique suffix words (shared-prefix, default 32)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  cmd->add_option("--output-len", f.output_len, "max_tokens (default 128; a file's own unless given)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  cmd->add_option("--prefix-len", f.prefix_len, "Shared prefix words for --workload shared-prefix")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  cmd->add_flag("--ignore-eos", f.ignore_eos, "Ask for exactly max_tokens (ignore_eos, min_tokens) where the server accepts it");
  cmd->add_option("--warmup", f.warmup, "Warm-up requests before the first level, not counted")->check(CLI::Range(int64_t(0), int64_t(1) << 20));
  cmd->add_flag("--stream,!--no-stream", f.stream, "Stream responses (default; needed for TTFT, TPOT and ITL)");
  cmd->add_option("--seed", f.seed, "Seed of synthetic prompts and arrival times");
  cmd->add_option("--timeout", f.timeout_s, "Per-request timeout in seconds")->check(CLI::PositiveNumber);
  cmd->add_option("--max-concurrency", f.max_concurrency, "Cap on requests in flight with --request-rate")->check(CLI::Range(1, 100000));
  cmd->add_option("--label", f.label, "Name of this run in charts and comparisons (e.g. the server's name)");
  cmd->add_option("--out", f.out, "Write the results as JSON to this file");
  cmd->add_option("--chart", f.chart, "Write an SVG chart (of this run, or of the result files given)");
  cmd->add_flag("--compare", f.compare, "Compare the result files given, side by side with ratios");
  cmd->add_flag("-q,--quiet", f.quiet, "No progress on stderr");
  cmd->add_option("files", f.files, "Result files (with --chart or --compare instead of running)");
  cmd->callback([&action] {
    if (!f.files.empty() || f.compare) {
      if (f.files.empty()) throw CLI::ValidationError("--compare", "needs result files: nagare bench --compare a.json b.json");
      if (!f.compare && f.chart.empty())
        throw CLI::ValidationError("files", "result files are for --chart or --compare");
      if (!f.url.empty()) throw CLI::ValidationError("--url", "give either --url (to run) or result files, not both");
      action = [] { return run_files(f); };
      return;
    }
    if (f.url.empty()) throw CLI::RequiredError("--url");
    action = [] { return run_benchmark(f); };
  });
}

}  // namespace nagare
