// Embedding request parsing (OpenAI /v1/embeddings, Ollama /api/embed and /api/embeddings): every
// accepted input shape, a 400 naming the field for each bad one; OpenAI's base64 encoding.
#include <gtest/gtest.h>

#include "api/api_error.h"
#include "api/embeddings_job.h"
#include "api/embeddings_request.h"

namespace nagare {
namespace {

Json body(const char* text) { return Json::parse(text); }

std::string refused_param(EmbeddingsRequest (*parse)(const Json&), const char* text) {
  try {
    parse(body(text));
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400) << text;
    return e.param();
  }
  ADD_FAILURE() << "accepted: " << text;
  return "?";
}

TEST(EmbeddingsRequest, OpenAiShapes) {
  EmbeddingsRequest r = parse_openai_embeddings(body(R"({"model": "m", "input": "hello"})"));
  EXPECT_EQ(r.api, EmbeddingsApi::kOpenAi);
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_EQ(r.inputs[0].text, "hello");
  EXPECT_FALSE(r.inputs[0].is_tokens);
  EXPECT_FALSE(r.base64);
  EXPECT_FALSE(r.dimensions);

  r = parse_openai_embeddings(body(R"({"input": ["a", "b", "c"], "encoding_format": "base64", "dimensions": 576})"));
  EXPECT_EQ(r.model, "");
  ASSERT_EQ(r.inputs.size(), 3u);
  EXPECT_EQ(r.inputs[2].text, "c");
  EXPECT_TRUE(r.base64);
  EXPECT_EQ(r.dimensions, 576);

  r = parse_openai_embeddings(body(R"({"input": [1, 2, 3]})"));
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_TRUE(r.inputs[0].is_tokens);
  EXPECT_EQ(r.inputs[0].tokens, (std::vector<int32_t>{1, 2, 3}));

  r = parse_openai_embeddings(body(R"({"input": [[1, 2], [3]], "encoding_format": "float", "user": "u"})"));
  ASSERT_EQ(r.inputs.size(), 2u);
  EXPECT_EQ(r.inputs[1].tokens, (std::vector<int32_t>{3}));
}

TEST(EmbeddingsRequest, OpenAiRefusals) {
  for (const char* text : {R"({})", R"({"input": null})", R"({"input": ""})", R"({"input": []})", R"({"input": [[]]})",
                           R"({"input": ["a", ""]})", R"({"input": 3})", R"({"input": {"a": 1}})", R"({"input": ["a", 1]})",
                           R"({"input": [1, "a"]})", R"({"input": [[1], "a"]})", R"({"input": [1.5]})", R"({"input": [true]})",
                           R"({"input": [-1]})", R"({"input": [4294967296]})", R"({"input": [[1], [2, -3]]})"})
    EXPECT_EQ(refused_param(parse_openai_embeddings, text), "input") << text;
  EXPECT_EQ(refused_param(parse_openai_embeddings, R"({"input": "a", "encoding_format": "int8"})"), "encoding_format");
  EXPECT_EQ(refused_param(parse_openai_embeddings, R"({"input": "a", "encoding_format": 1})"), "encoding_format");
  EXPECT_EQ(refused_param(parse_openai_embeddings, R"({"input": "a", "dimensions": 0})"), "dimensions");
  EXPECT_EQ(refused_param(parse_openai_embeddings, R"({"input": "a", "dimensions": "8"})"), "dimensions");
  EXPECT_EQ(refused_param(parse_openai_embeddings, R"({"input": "a", "model": 1})"), "model");
  EXPECT_EQ(refused_param(parse_openai_embeddings, R"({"input": "a", "user": 1})"), "user");
  Json many = {{"input", Json::array()}};
  for (size_t i = 0; i <= kMaxEmbeddingInputs; ++i) many["input"].push_back("x");
  EXPECT_THROW(parse_openai_embeddings(many), ApiError);
  many["input"].erase(many["input"].begin());
  EXPECT_EQ(parse_openai_embeddings(many).inputs.size(), kMaxEmbeddingInputs);
}

TEST(EmbeddingsRequest, Ollama) {
  EmbeddingsRequest r = parse_ollama_embed(body(R"({"model": "m", "input": ["a", "b"], "truncate": false,
      "keep_alive": "5m", "options": {"num_ctx": 512}})"));
  EXPECT_EQ(r.api, EmbeddingsApi::kOllamaEmbed);
  EXPECT_EQ(r.inputs.size(), 2u);
  EXPECT_FALSE(r.truncate);
  EXPECT_EQ(r.keep_alive, 300.0);
  r = parse_ollama_embed(body(R"({"model": "m", "input": "a"})"));
  EXPECT_EQ(r.inputs.size(), 1u);
  EXPECT_TRUE(r.truncate);
  // No input loads the model only, as Ollama.
  EXPECT_TRUE(parse_ollama_embed(body(R"({"model": "m"})")).inputs.empty());
  EXPECT_TRUE(parse_ollama_embed(body(R"({"model": "m", "input": ""})")).inputs.empty());
  EXPECT_TRUE(parse_ollama_embed(body(R"({"model": "m", "input": []})")).inputs.empty());
  EXPECT_EQ(refused_param(parse_ollama_embed, R"({"input": "a"})"), "model");
  EXPECT_EQ(refused_param(parse_ollama_embed, R"({"model": "", "input": "a"})"), "model");
  EXPECT_EQ(refused_param(parse_ollama_embed, R"({"model": "m", "input": 1})"), "input");
  EXPECT_EQ(refused_param(parse_ollama_embed, R"({"model": "m", "input": ["a", 1]})"), "input");
  EXPECT_EQ(refused_param(parse_ollama_embed, R"({"model": "m", "input": "a", "truncate": "yes"})"), "truncate");
  EXPECT_EQ(refused_param(parse_ollama_embed, R"({"model": "m", "input": "a", "options": []})"), "options");
  EXPECT_EQ(refused_param(parse_ollama_embed, R"({"model": "m", "input": "a", "keep_alive": "soon"})"), "keep_alive");

  r = parse_ollama_embeddings(body(R"({"model": "m", "prompt": "hello"})"));
  EXPECT_EQ(r.api, EmbeddingsApi::kOllamaLegacy);
  ASSERT_EQ(r.inputs.size(), 1u);
  EXPECT_EQ(r.inputs[0].text, "hello");
  EXPECT_TRUE(parse_ollama_embeddings(body(R"({"model": "m", "prompt": ""})")).inputs.empty());
  EXPECT_EQ(refused_param(parse_ollama_embeddings, R"({"model": "m", "prompt": 3})"), "prompt");
}

TEST(EmbeddingsRequest, Base64IsLittleEndianFloat32) {
  // Expected strings from Python: base64.b64encode(struct.pack("<3f", 0.5, 3.25, -1e-3)) etc.
  const float one[] = {1.0f};
  EXPECT_EQ(base64_floats(one, 1), "AACAPw==");
  const float two[] = {0.0f, -2.5f};
  EXPECT_EQ(base64_floats(two, 2), "AAAAAAAAIMA=");
  const float three[] = {0.5f, 3.25f, -1e-3f};
  EXPECT_EQ(base64_floats(three, 3), "AAAAPwAAUEBvEoO6");
  EXPECT_EQ(base64_floats(nullptr, 0), "");
}

}  // namespace
}  // namespace nagare
