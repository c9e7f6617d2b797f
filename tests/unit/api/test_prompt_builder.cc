// PromptBuilder on the real test models: chat template choice (the GGUF's, else the built-in),
// special tokens parsed, BOS added once, token-id prompts passed through; and the engine's
// refusals (RequestError) in OpenAI's terms: context_length_exceeded with its wording.
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

PromptBuilder builder(const Loaded& l) { return PromptBuilder(*l.chat, *l.tokenizer); }

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

TEST(PromptBuilder, TokenIdPromptsPassThrough) {
  // The engine checks them against the vocabulary when they are submitted.
  PromptBuilder b = builder(smol());
  const int32_t n_vocab = smol().tokenizer->vocab_size();
  EXPECT_EQ(b.prompt_tokens(completion({{5, 6, 7}, {n_vocab - 1}})),
            (std::vector<std::vector<int32_t>>{{5, 6, 7}, {n_vocab - 1}}));
}

TEST(ApiErrorFromEngine, ContextLengthInOpenAisWords) {
  // A max_tokens that does not fit: what was requested, split into prompt and completion.
  ApiError e = ApiError::from_engine(RequestError::context_length(64, 60, 10, true), "messages");
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.code(), "context_length_exceeded");
  EXPECT_EQ(e.param(), "messages");
  EXPECT_EQ(std::string(e.what()),
            "This model's maximum context length is 64 tokens. However, you requested 70 tokens (60 in the messages, "
            "10 for the completion). Please reduce the length of the messages or the completion.");
  // No max_tokens: the prompt leaves no room for the least output.
  ApiError f = ApiError::from_engine(RequestError::context_length(64, 64, 1, false), "prompt");
  EXPECT_EQ(f.param(), "prompt");
  EXPECT_EQ(std::string(f.what()),
            "This model's maximum context length is 64 tokens. However, your prompt resulted in 64 tokens, which "
            "leaves no room for 1 new token(s). Please reduce the length of the prompt.");
}

TEST(ApiErrorFromEngine, InvalidValuesNameTheirField) {
  ApiError e = ApiError::from_engine(RequestError(RequestError::Kind::kInvalid, "prompt", "the prompt is empty"), "messages");
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.param(), "messages");
  EXPECT_EQ(e.code(), "");
  EXPECT_EQ(ApiError::from_engine(RequestError(RequestError::Kind::kInvalid, "top_logprobs", "x"), "prompt").param(),
            "top_logprobs");
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

namespace nagare {
namespace {

std::vector<std::string> roles_and_text(const std::vector<ChatMessage>& ms) {
  std::vector<std::string> out;
  for (const ChatMessage& m : ms) out.push_back(m.role + ":" + m.content);
  return out;
}

// A manifest's SYSTEM and MESSAGEs (Ollama's placement): the system prompt only for chats that
// bring none; the example messages after the chat's leading system messages.
TEST(ConversationPreset, PlacesSystemAndMessagesAsOllama) {
  ConversationPreset p{"be brief", {{"user", "hi"}, {"assistant", "hello"}}};
  std::vector<ChatMessage> plain{{"user", "q"}};
  p.apply(plain);
  EXPECT_EQ(roles_and_text(plain),
            (std::vector<std::string>{"system:be brief", "user:hi", "assistant:hello", "user:q"}));
  std::vector<ChatMessage> own{{"system", "mine"}, {"user", "q"}};
  p.apply(own);
  EXPECT_EQ(roles_and_text(own), (std::vector<std::string>{"system:mine", "user:hi", "assistant:hello", "user:q"}));
  std::vector<ChatMessage> none{{"user", "q"}};
  ConversationPreset{}.apply(none);
  EXPECT_EQ(roles_and_text(none), std::vector<std::string>{"user:q"});
}

TEST(ConversationPreset, PromptBuilderAppliesIt) {
  PromptBuilder b(*smol().chat, *smol().tokenizer, ConversationPreset{"be brief", {{"user", "hi"}, {"assistant", "hello"}}});
  const std::string text = b.render_chat(Json::array({{{"role", "user"}, {"content", "q"}}}));
  const size_t sys = text.find("be brief"), hi = text.find("hi"), hello = text.find("hello"), q = text.rfind("q");
  ASSERT_NE(sys, std::string::npos);
  ASSERT_NE(hello, std::string::npos);
  EXPECT_LT(sys, hi);
  EXPECT_LT(hi, hello);
  EXPECT_LT(hello, q);
}

}  // namespace
}  // namespace nagare
