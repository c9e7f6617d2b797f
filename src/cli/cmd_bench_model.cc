// `nagare bench-model`: raw engine speed as llama-bench measures it — prompt processing (pp),
// generation (tg) and aggregate batched decode, mean ± standard deviation over repetitions.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <new>
#include <numeric>
#include <sstream>

#include "cli/commands.h"
#include "cli/kv_type_flags.h"
#include "cli/read_bandwidth.h"
#include "model/model.h"
#include "util/error.h"
#include "util/process_memory.h"

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
  int32_t depth = 0;  // context tokens already in each sequence's KV before a test
  KvTypeFlags kv_types;
  std::string output = "md";
  bool roofline = true;
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
  Bench(Model& model, int32_t threads, int32_t max_tokens, KvTypes types) : model_(model), pool_(threads) {
    const int32_t bs = 16;
    try {
      kv_ = std::make_unique<KvCache>(model.config(), (max_tokens + bs - 1) / bs, bs, types);
    } catch (const std::bad_alloc&) {
      throw Error("not enough memory for a KV cache of " + std::to_string(max_tokens) + " tokens (" +
                  std::to_string(size_t(max_tokens) * KvCache::bytes_per_token(model.config(), types) >> 20) +
                  " MiB); lower -d, -b or --batch-steps");
    }
    resident_after_load_ = resident_bytes();  // before this tool's own logits buffer
    logits_.resize(size_t(64) * model.config().n_vocab);
  }
  int threads() const { return pool_.size(); }
  size_t kv_bytes() const { return kv_->bytes(); }
  double read_bandwidth() { return measure_read_bandwidth(pool_); }
  size_t resident_after_load() const { return resident_after_load_; }

  // Seconds to process n prompt tokens of one sequence after `depth` untimed ones, 512 per
  // forward (llama-bench's ubatch). An encoder takes the sequence whole in one forward and
  // returns every token's hidden state (what its pooling reads; llama-bench -embd 1).
  double prompt(int32_t n, int32_t depth) {
    if (model_.config().encoder) {
      Batch b;
      b.sequences.push_back({});
      for (int32_t i = 0; i < n; ++i) b.add(token(i), i, 0, false, true);
      hidden_.resize(size_t(n) * size_t(model_.config().n_embd));
      return timed([&] { model_.forward(b, *kv_, nullptr, pool_, hidden_.data()); });
    }
    auto table = blocks(0, depth + n);
    fill(table, 0, depth);
    return timed([&] { fill(table, depth, depth + n); });
  }
  // Seconds for `steps` decode steps of `n_seq` sequences, one token each per step, each
  // sequence first holding `depth` untimed prompt tokens.
  double decode(int32_t n_seq, int32_t steps, int32_t depth) {
    std::vector<std::vector<int32_t>> tables;
    for (int32_t s = 0; s < n_seq; ++s) {
      tables.push_back(blocks(s, depth + steps));
      fill(tables.back(), 0, depth);
    }
    return timed([&] {
      for (int32_t step = 0; step < steps; ++step) {
        Batch b;
        for (int32_t s = 0; s < n_seq; ++s) {
          b.sequences.push_back({tables[s].data(), int32_t(tables[s].size())});
          b.add(token(depth + step + s), depth + step, s, true);
        }
        model_.forward(b, *kv_, logits_.data(), pool_);
      }
    });
  }
  // KV blocks one sequence of up to n tokens needs: 16-token blocks, 64 sequences at most.
  static int32_t kv_tokens(int32_t n) { return (n + 15) / 16 * 16; }

 private:
  // The block table of sequence `seq` (its own blocks, after those of the sequences before it).
  std::vector<int32_t> blocks(int32_t seq, int32_t n) {
    std::vector<int32_t> t;
    const int32_t bs = kv_->block_size(), n_blocks = (n + bs - 1) / bs;
    for (int32_t i = 0; i < n_blocks; ++i) t.push_back(seq * n_blocks + i);
    return t;
  }
  // Runs the prompt tokens at positions [from, to) of the sequence with this block table.
  void fill(const std::vector<int32_t>& table, int32_t from, int32_t to) {
    for (int32_t start = from; start < to; start += 512) {
      Batch b;
      b.sequences.push_back({table.data(), int32_t(table.size())});
      for (int32_t i = start; i < std::min(to, start + 512); ++i) b.add(token(i), i, 0, i + 1 == to);
      model_.forward(b, *kv_, logits_.data(), pool_);
    }
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
  size_t resident_after_load_ = 0;
  std::vector<float> logits_;
  std::vector<float> hidden_;  // an encoder's output
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
  const bool encoder = model->config().encoder;
  if (encoder && o.depth > 0) throw Error("an encoder holds no context between calls: -d must be 0");
  if (encoder && max_p > model->config().n_ctx_train)
    throw Error("a prompt of " + std::to_string(max_p) + " tokens is longer than the encoder's context of " +
                std::to_string(model->config().n_ctx_train));
  const int32_t need = std::max({Bench::kv_tokens(o.depth + max_p), Bench::kv_tokens(o.depth + max_g),
                                  max_b * Bench::kv_tokens(o.depth + o.batch_steps)});
  const KvTypes types = o.kv_types.types();
  Bench bench(*model, o.threads, need, types);

  const std::string at = o.depth > 0 ? " @ d" + std::to_string(o.depth) : "";  // llama-bench's naming
  std::vector<Result> results;
  auto measure = [&](Result r, auto fn, double tokens) {
    fn();  // warm-up: page in the weights, size the buffers
    for (int32_t i = 0; i < o.reps; ++i) r.samples_ts.push_back(tokens / fn());
    results.push_back(r);
    std::fprintf(stderr, "%s: %.2f t/s\n", r.test.c_str(), results.back().avg());
  };
  for (int32_t p : o.n_prompt)
    if (p > 0) measure(Result{"pp" + std::to_string(p) + at, p, 0, p, {}}, [&] { return bench.prompt(p, o.depth); }, p);
  // An encoder generates nothing: its tests are the prompt ones only.
  for (int32_t g : encoder ? std::vector<int32_t>{} : o.n_gen)
    if (g > 0) measure(Result{"tg" + std::to_string(g) + at, 0, g, 1, {}}, [&] { return bench.decode(1, g, o.depth); }, g);
  for (int32_t b : encoder ? std::vector<int32_t>{} : o.batch)
    if (b > 0)
      measure(Result{"decode b" + std::to_string(b) + at, 0, o.batch_steps, b, {}},
              [&] { return bench.decode(b, o.batch_steps, o.depth); }, double(b) * o.batch_steps);

  // Memory after load, and the generation roofline: a decoded token reads every weight once, and
  // at depth the keys and values before it, so tokens/s can be at most read bandwidth / those
  // bytes per token.
  const double mib = 1048576.0, file_mib = model->file().file_size() / mib, kv_mib = bench.kv_bytes() / mib;
  const double rss_mib = bench.resident_after_load() / mib;
  std::string notes;
  auto note = [&notes](const char* fmt, auto... args) {
    char line[512];
    std::snprintf(line, sizeof line, fmt, args...);
    notes += line;
  };
  // The KV cache's pages are not resident yet (they fill as it is used), so not counted here.
  note("Memory after load: resident %.1f MiB = model file %.1f + other %.1f MiB (KV cache of %.1f MiB: resident as it "
       "fills)\n",
       rss_mib, file_mib, rss_mib - file_mib, kv_mib);
  if (encoder) note("An encoder (embeddings only): prompt tests only, each one sequence in one forward.\n");
  if (o.roofline && !encoder) {
    const double weights = double(model->weight_bytes_per_token()), bw = bench.read_bandwidth();
    note("Generation roofline: %.1f MiB of weights per token / %.1f GB/s measured read bandwidth (%d threads) = "
         "at most %.1f t/s",
         weights / mib, bw / 1e9, bench.threads(), bw / weights);
    for (auto& r : results)
      if (r.n_gen > 0 && r.n_prompt == 0 && r.n_batch == 1) {
        // At depth: the cache read by the run's middle token.
        const double kv = double(KvCache::bytes_read(model->config(), o.depth + r.n_gen / 2, types)), bytes = weights + kv;
        if (o.depth > 0)
          note("; at depth %d, + %.1f MiB of KV cache per token = at most %.1f t/s", o.depth, kv / mib, bw / bytes);
        note("; %s reached %.1f t/s (%.0f%%)", r.test.c_str(), r.avg(), 100.0 * r.avg() * bytes / bw);
      }
    note("\n");
  }

  const std::string name = std::filesystem::path(o.model).filename().string();
  int64_t params = 0;
  for (auto& t : model->file().tensors()) params += t.n_elements();
  if (o.output == "json") {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (auto& r : results)
      out.push_back({{"model_filename", name}, {"model_type", model->config().arch},
                     {"model_size", model->file().file_size()}, {"model_n_params", params},
                     {"n_batch", r.n_batch}, {"n_threads", bench.threads()}, {"n_prompt", r.n_prompt},
                     {"n_gen", r.n_gen}, {"n_depth", o.depth}, {"test", r.test}, {"avg_ts", r.avg()}, {"stddev_ts", r.stddev()},
                     {"samples_ts", r.samples_ts}});
    std::printf("%s\n", out.dump(2).c_str());
    std::fprintf(stderr, "%s", notes.c_str());  // stdout stays pure JSON
  } else {
    std::printf("| model | size | params | threads | test | t/s |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (auto& r : results)
      std::printf("| %s | %.2f MiB | %.2f M | %d | %s | %.2f ± %.2f |\n", name.c_str(),
                  model->file().file_size() / 1048576.0, params / 1e6, bench.threads(), r.test.c_str(), r.avg(),
                  r.stddev());
    std::printf("\n%s", notes.c_str());
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
  o.kv_types.add(cmd);
  cmd->add_option("-d,--n-depth", o.depth, "Context tokens each sequence already holds (untimed) before a test")
      ->check(CLI::Range(0, 65536));
  cmd->add_option("--batch-steps", o.batch_steps, "Decode steps per batched-decode run")->check(CLI::Range(1, 4096));
  cmd->add_option("-r,--repetitions", o.reps, "Repetitions after one warm-up")->check(CLI::Range(1, 1000));
  cmd->add_option("-t,--threads", o.threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("-o,--output", o.output, "Output format")->check(CLI::IsMember({"md", "json"}));
  cmd->add_flag("!--no-roofline", o.roofline, "Skip the memory-bandwidth measurement behind the roofline line");
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
