// Attention in tiles and spans (model/attention.cc) keeps batch invariance at depth: a sequence
// long enough to cross several 256-position spans gives the same logits, bit for bit, whether
// prefilled at once, in chunks that end inside spans, decoded a token at a time, verified a few
// tokens at a time (as speculative drafts are), beside another sequence, or on pools of 1, 2, 3
// and 5 threads (each of which tiles the tokens and splits the spans and heads differently). The models cover
// the paths that differ: GQA groups of three (SmolLM2), sliding windows with attention sinks
// (gpt-oss) and with soft-capped scores (gemma2), and Gemma 3's 512-token window over 1 KV head;
// and the quantized KV cache types (q8_0, q4_0), whose keys meet a quantized query and whose
// values are dequantized row by row. The prefills want logits at scattered positions, so the
// last layer's FFN, run only for those tokens, meets them at every place in a batch.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "util/thread_pool.h"

namespace nagare {
namespace {

std::string model_path(const std::string& file) { return std::string(NAGARE_SOURCE_DIR) + "/models/" + file; }

constexpr int32_t kBlock = 16;

// One model; each call runs a fresh cache so runs do not share keys.
class SpanRunner {
 public:
  SpanRunner(const std::string& file, int32_t max_tokens, KvTypes types)
      : model_(Model::load(model_path(file))), max_tokens_(max_tokens), types_(types) {}
  const ModelConfig& config() const { return model_->config(); }

  // A step: tokens of sequences, each (sequence, position, token, want logits).
  struct Token {
    int32_t seq, pos, token;
    bool logits;
  };
  // Runs the steps in order on a fresh cache with `threads` threads; returns the logits of every
  // token that wants them, in order.
  std::vector<float> run(const std::vector<std::vector<Token>>& steps, int n_seqs, int threads) {
    const int32_t blocks_per_seq = (max_tokens_ + kBlock - 1) / kBlock;
    KvCache kv(model_->config(), blocks_per_seq * n_seqs, kBlock, types_);
    std::vector<std::vector<int32_t>> tables(static_cast<size_t>(n_seqs));
    // Interleaved block ids, as a shared pool hands them out.
    for (int32_t b = 0; b < blocks_per_seq; ++b)
      for (int s = 0; s < n_seqs; ++s) tables[size_t(s)].push_back(b * n_seqs + s);
    ThreadPool pool(threads);
    const int64_t V = model_->config().n_vocab;
    std::vector<float> out;
    for (const auto& step : steps) {
      Batch batch;
      for (auto& t : tables) batch.sequences.push_back({t.data(), int32_t(t.size())});
      for (const Token& t : step) batch.add(t.token, t.pos, t.seq, t.logits);
      std::vector<float> logits(size_t(batch.n_logits() * V));
      model_->forward(batch, kv, logits.data(), pool);
      out.insert(out.end(), logits.begin(), logits.end());
    }
    return out;
  }

 private:
  std::unique_ptr<Model> model_;
  int32_t max_tokens_;
  KvTypes types_;
};

// A model file and its KV cache's key and value types.
using SpanCase = std::tuple<const char*, const char*, const char*>;
struct AttentionSpans : ::testing::TestWithParam<SpanCase> {};

TEST_P(AttentionSpans, SameLogitsHoweverTheSequenceIsBatched) {
  const std::string file = std::get<0>(GetParam());
  const KvTypes types{parse_kv_type(std::get<1>(GetParam())), parse_kv_type(std::get<2>(GetParam()))};
  constexpr int32_t kLength = 700;  // spans 0, 1 and 2
  SpanRunner runner(file, kLength, types);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> pick(100, std::min<int32_t>(runner.config().n_vocab - 1, 20000));
  std::vector<int32_t> tokens(kLength), other(kLength);
  for (auto& t : tokens) t = pick(rng);
  for (auto& t : other) t = pick(rng);
  // Logits checked at these positions (the rest run without): inside and at the ends of spans.
  auto checked = [](int32_t p) { return p % 61 == 0 || p == 255 || p == 256 || p == 511 || p == 512 || p >= kLength - 12; };
  using Token = SpanRunner::Token;
  auto chunks = [&](int32_t size, int32_t from, int32_t to) {
    std::vector<std::vector<Token>> steps;
    for (int32_t p = from; p < to; p += size) {
      steps.emplace_back();
      for (int32_t q = p; q < std::min(to, p + size); ++q) steps.back().push_back({0, q, tokens[size_t(q)], checked(q)});
    }
    return steps;
  };
  auto concat = [](std::vector<std::vector<Token>> a, const std::vector<std::vector<Token>>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };

  // The reference: the prompt prefilled in two chunks of 512 and 188.
  const std::vector<float> want = runner.run(chunks(512, 0, kLength), 1, 2);
  ASSERT_FALSE(want.empty());
  auto expect_same = [&](const std::vector<float>& got, const std::string& how) {
    ASSERT_EQ(got.size(), want.size()) << how;
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0) << file << ": " << how;
  };
  expect_same(runner.run(chunks(37, 0, kLength), 1, 2), "chunks of 37");
  expect_same(runner.run(concat(chunks(512, 0, kLength - 12), chunks(1, kLength - 12, kLength)), 1, 2),
              "the last 12 tokens decoded one at a time");
  expect_same(runner.run(concat(chunks(300, 0, kLength - 12), chunks(4, kLength - 12, kLength)), 1, 2),
              "the last 12 tokens four at a time (drafts)");
  // 1 thread: a decode step's span tasks take all KV heads at once (block by block); 5 threads:
  // a Gemma 3 decode step (one KV head, 3 spans) also splits its group's heads.
  for (int threads : {1, 3, 5}) {
    expect_same(runner.run(chunks(37, 0, kLength), 1, threads), "chunks of 37 on " + std::to_string(threads) + " threads");
    expect_same(runner.run(concat(chunks(512, 0, kLength - 12), chunks(1, kLength - 12, kLength)), 1, threads),
                "decoded on " + std::to_string(threads) + " threads");
  }

  // Beside another sequence: sequence 1 prefills in chunks of 100 while sequence 0 (ours)
  // prefills and then decodes in the same steps.
  std::vector<std::vector<Token>> mixed = chunks(512, 0, kLength - 12);
  for (int32_t i = 0; i < 12; ++i) {
    std::vector<Token> step{{0, kLength - 12 + i, tokens[size_t(kLength - 12 + i)], true}};
    for (int32_t q = i * 50; q < i * 50 + 50; ++q) step.push_back({1, q, other[size_t(q)], q % 7 == 0});
    mixed.push_back(step);
  }
  std::vector<float> got = runner.run(mixed, 2, 2);
  // Keep only sequence 0's rows: the other's rows follow it in each decode step.
  const int64_t V = runner.config().n_vocab;
  std::vector<float> ours(got.begin(), got.begin() + (want.size() - 12 * size_t(V)));
  size_t row = ours.size() / size_t(V);
  for (int32_t i = 0; i < 12; ++i) {
    ours.insert(ours.end(), got.begin() + int64_t(row) * V, got.begin() + int64_t(row + 1) * V);
    int extra = 0;
    for (int32_t q = i * 50; q < i * 50 + 50; ++q) extra += q % 7 == 0;
    row += 1 + size_t(extra);
  }
  expect_same(ours, "decoded beside another sequence's prefill");

  // Decoded beside three other sequences on one thread: a decode step of four tokens takes
  // whole-token tasks over all KV heads.
  constexpr int32_t kOthers = 3, kOtherLength = 40;
  std::vector<std::vector<Token>> crowd = chunks(512, 0, kLength - 12);
  for (int32_t s = 1; s <= kOthers; ++s) {
    crowd.emplace_back();
    for (int32_t q = 0; q < kOtherLength; ++q) crowd.back().push_back({s, q, other[size_t(q * s)], false});
  }
  for (int32_t i = 0; i < 12; ++i) {
    crowd.push_back({{0, kLength - 12 + i, tokens[size_t(kLength - 12 + i)], true}});
    for (int32_t s = 1; s <= kOthers; ++s) crowd.back().push_back({s, kOtherLength + i, other[size_t(i + s)], s == 2});
  }
  got = runner.run(crowd, 1 + kOthers, 1);
  ours.assign(got.begin(), got.begin() + (want.size() - 12 * size_t(V)));
  row = ours.size() / size_t(V);
  for (int32_t i = 0; i < 12; ++i, row += 2)  // each step's rows: ours, then sequence 2's
    ours.insert(ours.end(), got.begin() + int64_t(row) * V, got.begin() + int64_t(row + 1) * V);
  expect_same(ours, "decoded beside three other sequences");
}

const SpanCase kSpanCases[] = {
    {"SmolLM2-135M-Instruct.Q4_1.gguf", "f16", "f16"}, {"tiny/tiny-gptoss.gguf", "f16", "f16"},
    {"tiny/tiny-gemma2.gguf", "f16", "f16"},           {"gemma-3-270m-q4_k_m.gguf", "f16", "f16"},
    {"SmolLM2-135M-Instruct.Q4_1.gguf", "q8_0", "q8_0"}, {"tiny/tiny-gptoss.gguf", "q8_0", "q4_0"},
    {"tiny/tiny-gemma2.gguf", "q4_0", "q8_0"},
};

std::string span_case_name(const ::testing::TestParamInfo<SpanCase>& info) {
  const std::string file = std::get<0>(info.param), k = std::get<1>(info.param), v = std::get<2>(info.param);
  std::string out;
  for (char ch : file.substr(file.find('/') + 1))
    if (std::isalnum(static_cast<unsigned char>(ch))) out += ch;
  if (k != "f16" || v != "f16") out += "_k" + k + "_v" + v;
  return out;
}

INSTANTIATE_TEST_SUITE_P(Models, AttentionSpans, ::testing::ValuesIn(kSpanCases), span_case_name);

}  // namespace
}  // namespace nagare
