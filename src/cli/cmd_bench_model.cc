// `nagare bench-model`: raw engine speed as llama-bench measures it — prompt processing (pp),
// generation (tg) and aggregate batched decode, mean ± standard deviation over repetitions.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "cli/commands.h"
#include "model/model.h"
#include "util/error.h"

namespace nagare {
namespace {

struct BenchModelOptions {
  std::string model;
  std::vector<int32_t> n_prompt = {512};
  std::vector<int32_t> n_gen = {128};
  std::vector<int32_t> batch = {1, 2, 4, 8, 16, 32};
  int32_t batch_steps = 32;
  int32_t reps = 5;
  int32_t threads = 0;
  std::string output = "md";
};

struct Result {
  std::string test;  // "pp512", "tg128", "decode b16"
  int32_t n_prompt = 0, n_gen = 0, n_batch = 1;
  std::vector<double> samples_ts;
  double avg() const { return std::accumulate(samples_ts.begin(), samples_ts.end(), 0.0) / samples_ts.size(); }
  double stddev() const {
    if (samples_ts.size() < 2) return 0;
    double m = avg(), s = 0;
    for (double x : samples_ts) s += (x - m) * (x - m);
    return std::sqrt(s / (samples_ts.size() - 1));
  }
};

class Bench {
 public:
  Bench(Model& model, int32_t threads, int32_t max_tokens) : model_(model), pool_(threads) {
    const int32_t bs = 16;
    kv_ = std::make_unique<KvCache>(model.config(), (max_tokens + bs - 1) / bs, bs);
    logits_.resize(size_t(64) * model.config().n_vocab);
  }
  int threads() const { return pool_.size(); }

  // Seconds to process n prompt tokens of one sequence, 512 per forward (llama-bench's ubatch).
  double prompt(int32_t n) {
    auto table = blocks(0, n);
    return timed([&] {
      for (int32_t start = 0; start < n; start += 512) {
        Batch b;
        b.sequences.push_back({table.data(), int32_t(table.size())});
        for (int32_t i = start; i < std::min(n, start + 512); ++i) b.add(token(i), i, 0, i + 1 == n);
        model_.forward(b, *kv_, logits_.data(), pool_);
      }
    });
  }
  // Seconds for `steps` decode steps of `n_seq` sequences, one token each per step.
  double decode(int32_t n_seq, int32_t steps) {
    std::vector<std::vector<int32_t>> tables;
    for (int32_t s = 0; s < n_seq; ++s) tables.push_back(blocks(s * steps, steps));
    return timed([&] {
      for (int32_t step = 0; step < steps; ++step) {
        Batch b;
        for (int32_t s = 0; s < n_seq; ++s) {
          b.sequences.push_back({tables[s].data(), int32_t(tables[s].size())});
          b.add(token(step + s), step, s, true);
        }
        model_.forward(b, *kv_, logits_.data(), pool_);
      }
    });
  }

 private:
  std::vector<int32_t> blocks(int32_t first_token, int32_t n) {
    std::vector<int32_t> t;
    const int32_t bs = kv_->block_size();
    for (int32_t i = 0; i < (n + bs - 1) / bs; ++i) t.push_back(first_token / bs + i);
    return t;
  }
  int32_t token(int32_t i) const { return int32_t((uint32_t(i) * 2654435761u) % uint32_t(model_.config().n_vocab)); }
  template <typename F>
  double timed(F f) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  Model& model_;
  ThreadPool pool_;
  std::unique_ptr<KvCache> kv_;
  std::vector<float> logits_;
};

std::vector<int32_t> parse_list(const std::string& s, const char* what) {
  std::vector<int32_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      int v = std::stoi(item, &used);
      if (used != item.size() || v < 0 || v > 65536) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw Error(std::string("invalid value '") + item + "' in " + what);
    }
  }
  return out;
}

int run_bench(const BenchModelOptions& o) {
  auto model = Model::load(o.model);
  const int32_t max_p = o.n_prompt.empty() ? 0 : *std::max_element(o.n_prompt.begin(), o.n_prompt.end());
  const int32_t max_g = o.n_gen.empty() ? 0 : *std::max_element(o.n_gen.begin(), o.n_gen.end());
  const int32_t max_b = o.batch.empty() ? 0 : *std::max_element(o.batch.begin(), o.batch.end());
  if (max_b > 64) throw Error("batch sizes above 64 are not supported by bench-model");
  const int32_t need = std::max({max_p, max_g, max_b * (o.batch_steps + 16)}) + 16;
  Bench bench(*model, o.threads, need);

  std::vector<Result> results;
  auto measure = [&](Result r, auto fn, double tokens) {
    fn();  // warm-up: page in the weights, size the buffers
    for (int32_t i = 0; i < o.reps; ++i) r.samples_ts.push_back(tokens / fn());
    results.push_back(r);
    std::fprintf(stderr, "%s: %.2f t/s\n", r.test.c_str(), results.back().avg());
  };
  for (int32_t p : o.n_prompt)
    if (p > 0) measure(Result{"pp" + std::to_string(p), p, 0, p, {}}, [&] { return bench.prompt(p); }, p);
  for (int32_t g : o.n_gen)
    if (g > 0) measure(Result{"tg" + std::to_string(g), 0, g, 1, {}}, [&] { return bench.decode(1, g); }, g);
  for (int32_t b : o.batch)
    if (b > 0)
      measure(Result{"decode b" + std::to_string(b), 0, o.batch_steps, b, {}},
              [&] { return bench.decode(b, o.batch_steps); }, double(b) * o.batch_steps);

  const std::string name = std::filesystem::path(o.model).filename().string();
  int64_t params = 0;
  for (auto& t : model->file().tensors()) params += t.n_elements();
  if (o.output == "json") {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (auto& r : results)
      out.push_back({{"model_filename", name}, {"model_type", model->config().arch},
                     {"model_size", model->file().file_size()}, {"model_n_params", params},
                     {"n_batch", r.n_batch}, {"n_threads", bench.threads()}, {"n_prompt", r.n_prompt},
                     {"n_gen", r.n_gen}, {"test", r.test}, {"avg_ts", r.avg()}, {"stddev_ts", r.stddev()},
                     {"samples_ts", r.samples_ts}});
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("| model | size | params | threads | test | t/s |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (auto& r : results)
      std::printf("| %s | %.2f MiB | %.2f M | %d | %s | %.2f ± %.2f |\n", name.c_str(),
                  model->file().file_size() / 1048576.0, params / 1e6, bench.threads(), r.test.c_str(), r.avg(),
                  r.stddev());
  }
  return 0;
}

}  // namespace

void add_bench_model_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("bench-model", "Measure prompt processing and generation speed of a model (llama-bench style)");
  static BenchModelOptions o;
  static std::string prompts = "512", gens = "128", batches = "1,2,4,8,16,32";
  cmd->add_option("-m,--model", o.model, "Path to a .gguf model")->required();
  cmd->add_option("-p,--n-prompt", prompts, "Prompt lengths, comma-separated (0 skips)");
  cmd->add_option("-n,--n-gen", gens, "Generation lengths, comma-separated (0 skips)");
  cmd->add_option("-b,--batch", batches, "Batched-decode sizes, comma-separated (empty skips)");
  cmd->add_option("--batch-steps", o.batch_steps, "Decode steps per batched-decode run")->check(CLI::Range(1, 4096));
  cmd->add_option("-r,--repetitions", o.reps, "Repetitions after one warm-up")->check(CLI::Range(1, 1000));
  cmd->add_option("-t,--threads", o.threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("-o,--output", o.output, "Output format")->check(CLI::IsMember({"md", "json"}));
  cmd->callback([&action] {
    action = [] {
      o.n_prompt = parse_list(prompts, "-p");
      o.n_gen = parse_list(gens, "-n");
      o.batch = batches.empty() ? std::vector<int32_t>{} : parse_list(batches, "-b");
      return run_bench(o);
    };
  });
}

}  // namespace nagare
