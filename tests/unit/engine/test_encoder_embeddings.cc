// The encoder models (bert, nomic-bert) through the engine: embeddings against llama.cpp's
// (goldens by scripts/golden/encoder_embeddings.py on the tiny random-weight models of
// scripts/tiny_models.py), the same bits alone and batched, and the requests an encoder refuses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace nagare {
namespace {

const std::string kDir = std::string(NAGARE_SOURCE_DIR);

struct Case {
  std::string name, text;
  std::vector<int32_t> ids;
  std::map<std::string, std::vector<double>> vectors;  // mean, cls
};

struct Golden {
  std::string model, pooling;
  int32_t n_embd = 0;
  std::vector<Case> cases;
};

Golden load_golden(const std::string& stem) {
  std::ifstream in(kDir + "/tests/golden/embeddings/" + stem + ".json");
  EXPECT_TRUE(in) << stem;
  const nlohmann::json j = nlohmann::json::parse(in);
  Golden g{j.at("model").get<std::string>(), j.at("pooling").get<std::string>(), j.at("n_embd").get<int32_t>(), {}};
  for (const auto& c : j.at("cases")) {
    Case gc{c.at("name").get<std::string>(), c.at("text").get<std::string>(), c.at("ids").get<std::vector<int32_t>>(), {}};
    for (const char* k : {"mean", "cls"}) gc.vectors[k] = c.at(k).get<std::vector<double>>();
    g.cases.push_back(std::move(gc));
  }
  return g;
}

std::unique_ptr<Engine> make_engine(const std::string& model_file, EngineOptions o) {
  auto model = Model::load(kDir + "/models/" + model_file);
  auto tok = Tokenizer::from_gguf(model->file());
  return std::make_unique<Engine>(std::move(model), std::move(tok), o);
}

GenerateRequest embedding(const std::vector<int32_t>& ids, std::optional<Pooling> pooling) {
  GenerateRequest r;
  r.prompt = ids;
  r.embedding = EmbeddingParams{pooling, 2};
  return r;
}

std::vector<float> result(RequestStream& s) {
  std::vector<TokenEvent> events;
  for (;;) {
    s.wait();
    if (s.drain(events)) break;
  }
  EXPECT_EQ(s.finish_reason(), FinishReason::kStop) << s.error();
  return s.embedding();
}

struct Agreement {
  double max_abs = 0, min_cos = 1;
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

// Bounds about 1.4x the measured distance over the golden texts (x86-64, the larger of the two
// tiny encoders): mean 0.00271 / 0.9999497   cls 0.00456 / 0.9998879   (max |diff| / min cosine)
// The graph is llama.cpp's to float rounding: the same models with F32 matrices agreed to 3.4e-5
// (mean) and 7.0e-5 (cls). What remains comes from the activations: Q8_0 for the Q8_0 FFN in both
// engines, where a last-bit difference upstream moves a value across a rounding step, and the F16
// matrices' activations, which llama.cpp rounds to F16 and nagare does not (kernels/quant.h; on
// the F16 SmolLM2 that took nagare 3x closer to the exact forward, docs/accuracy.md). Before that
// change the distance was 0.00109 / 0.9999913 and 0.00308 / 0.9999473. A single token's vector
// (cls) shows it most. A wrong vector fails far outside these (checked below).
struct Bound {
  double max_abs, min_cos;
};
const std::map<std::string, Bound> kBounds = {{"mean", {0.0038, 0.99993}}, {"cls", {0.0064, 0.99984}}};
constexpr double kMaxAbs = 1e-3;  // the planted-failure check's scale

class EncoderGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(EncoderGolden, MatchesLlamaCppAloneAndBatched) {
  const Golden g = load_golden(GetParam());
  ASSERT_GE(g.cases.size(), 6u);
  EngineOptions o;
  o.threads = 2;
  auto e = make_engine(g.model, o);
  ASSERT_TRUE(e->model().config().encoder);
  ASSERT_EQ(e->model().config().n_embd, g.n_embd);
  EXPECT_EQ(pooling_name(*e->options().pooling), g.pooling);  // from the GGUF's pooling_type

  std::map<std::string, std::vector<float>> alone;
  for (const std::string pname : {"mean", "cls"}) {
    const Pooling pooling = *parse_pooling(pname);
    Agreement agree;
    for (const Case& c : g.cases) {
      EXPECT_EQ(e->tokenizer().encode(c.text, true, false), c.ids) << c.name;
      // The model's own pooling when the request names none.
      const std::vector<float> v =
          result(*e->submit(embedding(c.ids, pname == g.pooling ? std::nullopt : std::optional<Pooling>(pooling))));
      ASSERT_EQ(int32_t(v.size()), g.n_embd) << c.name;
      agree.add(v, c.vectors.at(pname));
      alone[c.name + "/" + pname] = v;
    }
    std::printf("[ info ] %s %s: max |diff| %.3g, min cosine %.8f\n", g.model.c_str(), pname.c_str(), agree.max_abs,
                agree.min_cos);
    EXPECT_LE(agree.max_abs, kBounds.at(pname).max_abs) << pname;
    EXPECT_GE(agree.min_cos, kBounds.at(pname).min_cos) << pname;
  }
  // The bounds can fail: the other pooling's vectors are far outside them.
  Agreement wrong;
  for (const Case& c : g.cases) wrong.add(alone.at(c.name + "/mean"), c.vectors.at("cls"));
  EXPECT_GT(wrong.max_abs, 10 * kMaxAbs);
  EXPECT_LT(wrong.min_cos, kBounds.at("cls").min_cos);

  // Batched: every text at once, with each pooling, in one engine step (the budget holds them
  // all): the same bits as alone.
  std::vector<std::pair<std::string, std::shared_ptr<RequestStream>>> streams;
  for (int round = 0; round < 2; ++round)
    for (const Case& c : g.cases)
      for (const std::string pname : {"mean", "cls"})
        streams.emplace_back(c.name + "/" + pname, e->submit(embedding(c.ids, *parse_pooling(pname))));
  for (auto& [key, s] : streams) EXPECT_EQ(result(*s), alone.at(key)) << key << " batched";
}

INSTANTIATE_TEST_SUITE_P(Tiny, EncoderGolden, ::testing::Values("tiny-bert", "tiny-nomic-bert"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(EncoderRequests, RefusesCompletionsAndPromptsBeyondOneStep) {
  EngineOptions o;
  o.threads = 2;
  o.max_batch_tokens = 64;
  auto e = make_engine("tiny/tiny-bert.gguf", o);
  const std::vector<int32_t> ids = e->tokenizer().encode("hello world", true, false);
  GenerateRequest completion;
  completion.prompt = ids;
  completion.max_tokens = 4;
  try {
    e->submit(completion);
    FAIL() << "a completion on an encoder was accepted";
  } catch (const RequestError& err) {
    EXPECT_EQ(err.kind(), RequestError::Kind::kInvalid);
    EXPECT_NE(std::string(err.what()).find("embedding"), std::string::npos) << err.what();
  }
  // 100 tokens: more than one step's 64, less than the context.
  const std::vector<int32_t> long_ids(100, ids[1]);
  try {
    e->submit(embedding(long_ids, std::nullopt));
    FAIL() << "a prompt longer than one step was accepted";
  } catch (const RequestError& err) {
    EXPECT_NE(std::string(err.what()).find("64"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("--max-batch-tokens"), std::string::npos) << err.what();
  }
  // Beyond the model's context (512 positions): the context-length error.
  const std::vector<int32_t> too_long(600, ids[1]);
  try {
    e->submit(embedding(too_long, std::nullopt));
    FAIL() << "a prompt beyond the context was accepted";
  } catch (const RequestError& err) {
    EXPECT_EQ(err.kind(), RequestError::Kind::kContextLength);
    EXPECT_EQ(err.n_ctx(), 512);
  }
  // One step's worth exactly runs, and a few such requests share steps without chunking.
  const std::vector<int32_t> full(64, ids[1]);
  std::vector<std::shared_ptr<RequestStream>> s;
  for (int i = 0; i < 3; ++i) s.push_back(e->submit(embedding(full, std::nullopt)));
  const std::vector<float> first = result(*s[0]);
  for (auto& x : s) EXPECT_EQ(result(*x), first);
}

}  // namespace
}  // namespace nagare
