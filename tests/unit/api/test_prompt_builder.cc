// PromptBuilder on the real test models: chat template choice (the GGUF's, else the built-in),
// special tokens parsed, BOS added once, token-id prompts checked, and context_length_exceeded.
#include <gtest/gtest.h>

#include "api/api_error.h"
#include "api/prompt_builder.h"
#include "gguf/gguf_file.h"

namespace nagare {
namespace {

struct Loaded {
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ChatPrompt> chat;
};

Loaded load(const char* name) {
  Loaded l;
  l.file = GgufFile::open(std::string(NAGARE_SOURCE_DIR) + "/models/" + name);
  l.tokenizer = Tokenizer::from_gguf(*l.file);
  l.chat = std::make_unique<ChatPrompt>(*l.file, *l.tokenizer);
  return l;
}

const Loaded& smol() {
  static Loaded l = load("SmolLM2-135M-Instruct.Q4_1.gguf");
  return l;
}
const Loaded& gemma() {
  static Loaded l = load("gemma-3-270m-q4_k_m.gguf");
  return l;
}

PromptBuilder builder(const Loaded& l, int32_t n_ctx = 4096) {
  return PromptBuilder(*l.chat, *l.tokenizer, n_ctx);
}

OpenAiRequest chat(const std::string& user) {
  return parse_chat_request({{"messages", {{{"role", "user"}, {"content", user}}}}});
}

OpenAiRequest completion(Json prompt, Json extra = Json::object()) {
  Json body = {{"prompt", std::move(prompt)}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return parse_completion_request(body);
}

template <class F>
ApiError error_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no ApiError thrown";
  return ApiError(0, "", "");
}

TEST(PromptBuilder, SmolLmUsesItsOwnTemplate) {
  PromptBuilder b = builder(smol());
  EXPECT_EQ(b.render_chat(chat("Hi").messages),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  auto tokens = b.prompt_tokens(chat("Hi"));
  ASSERT_EQ(tokens.size(), 1u);
  const auto& t = tokens[0];
  const int32_t im_start = *smol().tokenizer->find_token("<|im_start|>");
  const int32_t im_end = *smol().tokenizer->find_token("<|im_end|>");
  // Special-token texts become single ids; SmolLM2 adds no BOS.
  EXPECT_EQ(t.front(), im_start);
  EXPECT_EQ(std::count(t.begin(), t.end(), im_start), 3);
  EXPECT_EQ(std::count(t.begin(), t.end(), im_end), 2);
  EXPECT_EQ(smol().tokenizer->decode(t, true), b.render_chat(chat("Hi").messages));
}

TEST(PromptBuilder, GemmaFallsBackToTheBuiltInAndAddsBosOnce) {
  ASSERT_FALSE(gemma().file->has("tokenizer.chat_template"));
  PromptBuilder b = builder(gemma());
  EXPECT_EQ(gemma().chat->chat_template().source(), *ChatTemplate::builtin_source("gemma"));
  const std::string text = b.render_chat(chat("Hi").messages);
  EXPECT_EQ(text, "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
  const auto t = b.prompt_tokens(chat("Hi"))[0];
  const int32_t bos = gemma().tokenizer->bos_id();
  ASSERT_GE(t.size(), 3u);
  EXPECT_EQ(t[0], bos);
  EXPECT_NE(t[1], bos);  // the template's <bos> text is not tokenized a second time
  EXPECT_EQ(std::count(t.begin(), t.end(), bos), 1);
  EXPECT_EQ(t[1], *gemma().tokenizer->find_token("<start_of_turn>"));
}

TEST(PromptBuilder, CompletionPromptsFollowTheVocabsBosRule) {
  const auto g = builder(gemma()).prompt_tokens(completion("Hello world"))[0];
  EXPECT_EQ(g, gemma().tokenizer->encode("Hello world", true, true));
  EXPECT_EQ(g.front(), gemma().tokenizer->bos_id());
  const auto s = builder(smol()).prompt_tokens(completion({"Hello world", "<|im_start|>x"}));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0], smol().tokenizer->encode("Hello world", false, false));
  EXPECT_EQ(s[1].front(), *smol().tokenizer->find_token("<|im_start|>"));
}

TEST(PromptBuilder, TokenIdPromptsPassThroughOrAreRejected) {
  PromptBuilder b = builder(smol());
  const int32_t n_vocab = smol().tokenizer->vocab_size();
  EXPECT_EQ(b.prompt_tokens(completion({{5, 6, 7}, {n_vocab - 1}})),
            (std::vector<std::vector<int32_t>>{{5, 6, 7}, {n_vocab - 1}}));
  ApiError e = error_of([&] { b.prompt_tokens(completion({1, n_vocab})); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.param(), "prompt");
  EXPECT_NE(std::string(e.what()).find(std::to_string(n_vocab)), std::string::npos);
}

TEST(PromptBuilder, EmptyPromptIsRejected) {
  ApiError e = error_of([&] { builder(smol()).prompt_tokens(completion("")); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.param(), "prompt");
}

TEST(PromptBuilder, ContextLengthExceeded) {
  PromptBuilder b = builder(smol(), 64);
  std::vector<int32_t> ids(64, 100);
  // 64 tokens leave no room in a 64-token context; 63 leave one.
  ApiError e = error_of([&] { b.prompt_tokens(completion(ids, {{"max_tokens", nullptr}})); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.code(), "context_length_exceeded");
  EXPECT_EQ(e.param(), "prompt");
  EXPECT_NE(std::string(e.what()).find("maximum context length is 64"), std::string::npos) << e.what();
  ids.resize(63);
  EXPECT_NO_THROW(b.prompt_tokens(completion(ids, {{"max_tokens", 1}})));
  EXPECT_EQ(error_of([&] { b.prompt_tokens(completion(ids, {{"max_tokens", 2}})); }).code(), "context_length_exceeded");
  ids.resize(60);
  EXPECT_EQ(error_of([&] { b.prompt_tokens(completion(ids, {{"max_tokens", 10}})); }).code(), "context_length_exceeded");
  GenerateRequest g;  // no max_tokens: min_tokens still has to fit
  g.min_tokens = 5;
  EXPECT_EQ(error_of([&] { b.check_fits(60, g, "messages"); }).param(), "messages");
  g.min_tokens = 4;
  EXPECT_NO_THROW(b.check_fits(60, g, "messages"));

  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "hello ";
  ApiError c = error_of([&] { b.prompt_tokens(chat(long_text)); });
  EXPECT_EQ(c.code(), "context_length_exceeded");
  EXPECT_EQ(c.param(), "messages");
}

TEST(PromptBuilder, TemplateErrorsAre400OnMessages) {
  // Gemma's template raises when roles do not alternate.
  OpenAiRequest r = parse_chat_request({{"messages", {{{"role", "user"}, {"content", "a"}}, {{"role", "user"}, {"content", "b"}}}}});
  ApiError e = error_of([&] { builder(gemma()).prompt_tokens(r); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.param(), "messages");
  EXPECT_NE(std::string(e.what()).find("Conversation roles must alternate"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace nagare
