// Forward pass against llama.cpp (tests/golden/model/*.json, made by
// scripts/golden/model_logits.py): per-position logits within a measured bound, and 64-token
// greedy continuations identical except at a near-tie the reference itself shows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/cpu_features.h"
#include "model/model.h"

namespace nagare {
namespace {

// Bounds, from measurements on the test models (2026-11, llama-cpp-python 0.3.36):
//   SmolLM2 Q4_1:  max |diff| 1.42, mean KL 0.0029;  Gemma 3 Q4_K_M: max |diff| 2.38, mean KL 0.0059.
// Both engines quantize activations to 8 bits before every matmul; a last-bit difference that
// flips one rounding there moves logits by tenths (dequantized float weights with float
// activations differ from llama.cpp by 0.9 at the first position), so the bound on single logits
// is loose while the distributions (KL) agree closely.
constexpr double kMaxAbsLogitDiff = 3.0;   // over each position's reference top-32 logits
constexpr double kMaxMeanKl = 0.01;        // mean KL(ref || nagare) over the top-32 mass, nats
constexpr double kNearTie = 0.5;           // the top choice may differ only where the reference's top-2 gap is below this

std::string source(const std::string& rel) { return std::string(NAGARE_SOURCE_DIR) + "/" + rel; }

nlohmann::json load_golden(const std::string& name) {
  std::ifstream in(source("tests/golden/model/" + name + ".json"));
  if (!in) throw std::runtime_error("missing golden file for " + name);
  return nlohmann::json::parse(in);
}

double log_sum_exp(const float* x, int64_t n) {
  double m = *std::max_element(x, x + n), s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - m);
  return m + std::log(s);
}

struct Runner {
  std::unique_ptr<Model> model;
  std::unique_ptr<KvCache> kv;
  ThreadPool pool{2};
  std::vector<int32_t> table;

  explicit Runner(const std::string& file) {
    model = Model::load(source("models/" + file));
    kv = std::make_unique<KvCache>(model->config(), 64, 16);
    for (int32_t i = 0; i < kv->n_blocks(); ++i) table.push_back(i);
  }
  // Runs tokens at positions [start, start + n) of one sequence; returns every token's logits.
  std::vector<float> run(const std::vector<int32_t>& tokens, int32_t start) {
    Batch b;
    b.sequences.push_back({table.data(), int32_t(table.size())});
    for (size_t i = 0; i < tokens.size(); ++i) b.add(tokens[i], start + int32_t(i), 0, true);
    std::vector<float> logits(tokens.size() * size_t(model->config().n_vocab));
    model->forward(b, *kv, logits.data(), pool);
    return logits;
  }
};

class ModelGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelGolden, LogitsAndGreedyMatchLlamaCpp) {
  // ctest runs this again with NAGARE_ISA naming each lower kernel tier (tests/CMakeLists.txt);
  // a CPU without that tier falls back to its best one, which would only repeat the default run.
  const char* want = std::getenv("NAGARE_ISA");
  if (want != nullptr && *want != '\0' && std::string(want) != isa_name(active_isa()))
    GTEST_SKIP() << "this CPU has no " << want << " tier";
  const std::string name = GetParam();
  nlohmann::json g = load_golden(name);
  Runner r(name + ".gguf");
  const int64_t V = r.model->config().n_vocab;
  double worst_abs = 0, kl_sum = 0;
  int64_t kl_count = 0;
  for (auto& c : g["cases"]) {
    std::vector<int32_t> prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> ref_gen = c["greedy_ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), ref_gen.begin(), ref_gen.end());
    all.pop_back();  // the reference's logits cover prompt + generated tokens fed back

    // 1. Teacher-forced: the reference's sequence in one batch, every position compared.
    std::vector<float> logits = r.run(all, 0);
    const auto& positions = c["positions"];
    for (size_t p = 0; p < all.size(); ++p) {
      const float* row = logits.data() + p * V;
      const double lse = log_sum_exp(row, V);
      const double ref_lse = positions[p]["logsumexp"].get<double>();
      auto ids = positions[p]["top_ids"].get<std::vector<int32_t>>();
      auto ref = positions[p]["top_logits"].get<std::vector<double>>();
      double kl = 0;
      for (size_t i = 0; i < ids.size(); ++i) {
        worst_abs = std::max(worst_abs, std::abs(double(row[ids[i]]) - ref[i]));
        const double lp_ref = ref[i] - ref_lse, lp = double(row[ids[i]]) - lse;
        kl += std::exp(lp_ref) * (lp_ref - lp);
      }
      kl_sum += kl;
      kl_count++;
      // The most likely token agrees wherever the reference does not see a near-tie.
      const int32_t ours = int32_t(std::max_element(row, row + V) - row);
      if (ours != ids[0]) {
        EXPECT_LT(ref[0] - ref[1], kNearTie) << name << "/" << c["name"] << ": top token differs at position " << p;
      }
    }

    // 2. Free-running greedy from the prompt, one token per step after a batched prefill.
    std::vector<float> step = r.run(prompt, 0);
    std::vector<float> last(step.end() - V, step.end());
    for (size_t i = 0; i < ref_gen.size(); ++i) {
      const int32_t ours = int32_t(std::max_element(last.begin(), last.end()) - last.begin());
      if (ours != ref_gen[i]) {
        auto ref = positions[prompt.size() - 1 + i]["top_logits"].get<std::vector<double>>();
        const double gap = ref[0] - ref[1];
        EXPECT_LT(gap, kNearTie) << name << "/" << c["name"] << ": greedy diverges at token " << i
                                 << " where the reference's top-2 gap is " << gap;
        std::printf("[ info ] %s/%s: diverges at token %zu at a near-tie (gap %.4f)\n", name.c_str(),
                    c["name"].get<std::string>().c_str(), i, gap);
        break;
      }
      // Batch invariance: the decode step's logits equal the teacher-forced batch's bit for bit.
      const float* forced = logits.data() + (prompt.size() - 1 + i) * V;
      ASSERT_TRUE(std::equal(last.begin(), last.end(), forced))
          << name << "/" << c["name"] << ": decode logits differ from batched logits at token " << i;
      step = r.run({ours}, int32_t(prompt.size() + i));
      last.assign(step.begin(), step.end());
    }
  }
  const double mean_kl = kl_sum / double(kl_count);
  std::printf("[ info ] %s (%s kernels): max |logit diff| over top-32 = %.5f, mean KL = %.6f over %lld positions\n",
              name.c_str(), isa_name(active_isa()), worst_abs, mean_kl, (long long)kl_count);
  EXPECT_LT(worst_abs, kMaxAbsLogitDiff);
  EXPECT_LT(mean_kl, kMaxMeanKl);
}

INSTANTIATE_TEST_SUITE_P(Models, ModelGolden,
                         ::testing::Values("SmolLM2-135M-Instruct.Q4_1", "gemma-3-270m-q4_k_m"),
                         [](const auto& info) { return info.param.substr(0, 6) == "SmolLM" ? std::string("smollm2") : std::string("gemma3"); });

}  // namespace
}  // namespace nagare
