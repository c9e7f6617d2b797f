// bench_tokenizer: how long Tokenizer::encode takes on a long prompt, for each model given.
// A benchmark, not a test (timings pass or fail nothing): built with the project, never run by
// ctest. docs/benchmarks.md says how to run it and records results.
//
//   build/bench/bench_tokenizer [--reps N] [--text FILE] [MODEL.gguf ...]
//
// Without models it times the two test models in models/; without --text, the longest text of
// the tokenizer goldens (4.7 kB of prose, code and Unicode: ~2,250 SmolLM2 tokens, ~1,600 for
// gemma3), once as is and once repeated ten times. Each line is the median of N encodes (default
// 10) on one thread, after one untimed warm-up.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::string golden_long_text() {
  const std::string path = std::string(NAGARE_SOURCE_DIR) + "/tests/golden/tokenizer/smollm2.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  const auto golden = nlohmann::json::parse(in);
  std::string longest;
  for (const auto& c : golden["cases"]) {
    std::string t = from_hex(c["text_hex"].get<std::string>());
    if (t.size() > longest.size()) longest = std::move(t);
  }
  return longest;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int reps = 10;
    std::string text;
    std::vector<std::string> models;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--reps" && i + 1 < argc) {
        reps = std::max(1, std::atoi(argv[++i]));
      } else if (a == "--text" && i + 1 < argc) {
        text = read_file(argv[++i]);
      } else if (a == "-h" || a == "--help") {
        std::printf("usage: %s [--reps N] [--text FILE] [MODEL.gguf ...]\n", argv[0]);
        return 0;
      } else {
        models.push_back(a);
      }
    }
    if (models.empty())
      for (const char* m : {"SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"})
        models.push_back(std::string(NAGARE_SOURCE_DIR) + "/models/" + m);
    if (text.empty()) text = golden_long_text();
    std::string text10;
    for (int i = 0; i < 10; ++i) text10 += text;

    std::printf("%-34s %9s %8s %12s %9s %11s\n", "model", "bytes", "tokens", "ms/encode", "MB/s", "tokens/s");
    for (const std::string& path : models) {
      const auto file = nagare::GgufFile::open(path);
      const auto tok = nagare::Tokenizer::from_gguf(*file);
      const std::string name = path.substr(path.find_last_of('/') + 1);
      for (const std::string* t : {&text, &text10}) {
        size_t n_tokens = tok->encode(*t, true, true).size();  // warm-up
        std::vector<double> ms;
        for (int r = 0; r < reps; ++r) {
          const auto start = std::chrono::steady_clock::now();
          n_tokens = tok->encode(*t, true, true).size();
          ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        }
        const double m = median(ms);
        std::printf("%-34s %9zu %8zu %12.3f %9.2f %11.0f\n", name.c_str(), t->size(), n_tokens, m,
                    double(t->size()) / 1e3 / m, double(n_tokens) * 1e3 / m);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
}
