// Decode speed with and without a grammar, through the engine (scheduler, sampler, masks):
// B requests at once generate T tokens each, unconstrained (ignore_eos) and then held to a JSON
// Schema whose sentences are longer than T tokens, so both runs decode the same number of tokens.
// Prints tokens/s of each and their ratio, mean over repetitions, and the grammar's compile time.
//
//   bench_constrained_decode MODEL SCHEMA.json [-b 1,16] [-n 128] [-r 3] [-t THREADS] [--temp 1.0]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

using namespace nagare;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

// Tokens per second of `batch` requests of `n_gen` tokens each, submitted at once.
double run(Engine& engine, int batch, int n_gen, float temperature, const std::shared_ptr<const Grammar>& grammar,
           int* short_outputs) {
  std::vector<std::shared_ptr<RequestStream>> streams;
  const double t0 = now_s();
  for (int i = 0; i < batch; ++i) {
    GenerateRequest r;
    r.prompt = engine.tokenizer().encode("Write a long list of fruit names as JSON, request " + std::to_string(i) + ".",
                                         true, false);
    r.sampling.temperature = temperature;
    r.sampling.top_k = 0;
    r.sampling.top_p = 1.0f;
    r.sampling.min_p = 0.0f;
    r.sampling.seed = uint64_t(i + 1);
    r.max_tokens = n_gen;
    r.ignore_eos = true;
    r.grammar = grammar;
    streams.push_back(engine.submit(std::move(r)));
  }
  int64_t tokens = 0;
  std::vector<TokenEvent> events;
  for (auto& s : streams) {
    for (bool done = false; !done;) {
      s->wait();
      events.clear();
      done = s->drain(events);
    }
    tokens += s->stats().completion_tokens;
    if (s->stats().completion_tokens < n_gen) ++*short_outputs;
  }
  return double(tokens) / (now_s() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL SCHEMA.json [-b 1,16] [-n 128] [-r 3] [-t THREADS] [--temp 1.0]\n", argv[0]);
    return 2;
  }
  std::vector<int> batches = {1, 16};
  int n_gen = 128, reps = 3, threads = 0;
  float temperature = 1.0f;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "-b") batches = parse_list(argv[i + 1]);
    else if (a == "-n") n_gen = std::stoi(argv[i + 1]);
    else if (a == "-r") reps = std::stoi(argv[i + 1]);
    else if (a == "-t") threads = std::stoi(argv[i + 1]);
    else if (a == "--temp") temperature = std::stof(argv[i + 1]);
  }
  std::ifstream f(argv[2]);
  const auto schema = nlohmann::ordered_json::parse(f);
  const double c0 = now_s();
  auto grammar = Grammar::from_json_schema(schema);
  const double compile_ms = (now_s() - c0) * 1e3;

  auto model = Model::load(argv[1]);
  auto tokenizer = Tokenizer::from_gguf(model->file());
  EngineOptions o;
  o.n_ctx = 1024;
  o.threads = threads;
  Engine engine(std::move(model), std::move(tokenizer), o);
  std::printf("model %s, schema %s (compiled in %.2f ms), %d tokens per request, temperature %.2f, %d threads\n",
              argv[1], argv[2], compile_ms, n_gen, temperature, threads);
  std::printf("| batch | free t/s | schema t/s | ratio | outputs shorter than %d |\n|---:|---:|---:|---:|---:|\n", n_gen);
  for (int b : batches) {
    int dummy = 0, short_outputs = 0;
    run(engine, b, 16, temperature, nullptr, &dummy);  // warm-up (and the grammar's masks start cold below)
    double free_sum = 0, schema_sum = 0;
    for (int r = 0; r < reps; ++r) {
      free_sum += run(engine, b, n_gen, temperature, nullptr, &dummy);
      schema_sum += run(engine, b, n_gen, temperature, grammar, &short_outputs);
    }
    std::printf("| %d | %.1f | %.1f | %.3f | %d |\n", b, free_sum / reps, schema_sum / reps, schema_sum / free_sum,
                short_outputs);
  }
  return 0;
}
