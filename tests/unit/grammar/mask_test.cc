// fill_mask against brute force (each token tried on a copy of the matcher) along seeded random
// walks: on a synthetic vocabulary built to split characters and cross rule boundaries, and on
// the real vocabularies of the test models. The walks' outputs are parsed and checked too.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "gguf/gguf_file.h"
#include "grammar_test_util.h"
#include "tokenizer/tokenizer.h"

namespace nagare::grammar_test {
namespace {

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> end_ids;
  std::shared_ptr<const GrammarVocab> grammar_vocab;
};

Vocab synthetic_vocab() {
  Vocab v;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(std::string(1, static_cast<char>(b)));
  const std::vector<std::string> pieces = {
      "{", "}", "[", "]", "\"", ":", ",", " ", "\n", "  ", "\t", "\\", "\\n", "\\u", "00", "e9", "-", ".", "0", "1", "2",
      "9", "12", "e", "E+", "true", "false", "null", "nu", "ll", "a", "b", "name", "age", "tags", "x", "y", "日", "本",
      "\xe6\x97", "\xa5", "\xe6", "é", "ok", "red", "green", "blue", "+", "*", "(", ")", "=", "7", "id", "\"}", "\",",
      "\":", "\": ", "\",\"", "},", "}]", "]}", "[{", "{\"", "\"]", "\" ", ", \"", "\n}", "1,", "0.", ".5", "3e"};
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string t;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) t += pieces[rng() % pieces.size()];
    v.tokens.push_back(t);
  }
  v.tokens.push_back("\"a\"");  // a duplicate of nothing yet, then twice
  v.tokens.push_back("\"a\"");
  v.tokens.push_back("");       // a control token
  v.tokens.push_back("<eos>");  // an end token (its text is never matched as bytes)
  v.end_ids.push_back(static_cast<int32_t>(v.tokens.size() - 1));
  v.grammar_vocab = std::make_shared<const GrammarVocab>(v.tokens, v.end_ids);
  return v;
}

const Vocab& model_vocab(const std::string& file) {
  static std::map<std::string, Vocab> cache;
  auto it = cache.find(file);
  if (it != cache.end()) return it->second;
  Vocab v;
  const std::string path = std::string(NAGARE_SOURCE_DIR) + "/models/" + file;
  if (std::filesystem::exists(path)) {
    const auto gguf = GgufFile::open(path);
    const auto tok = Tokenizer::from_gguf(*gguf);
    for (int32_t i = 0; i < tok->vocab_size(); ++i) {
      v.tokens.emplace_back(tok->piece_view(i, false));
      if (tok->is_end_of_generation(i)) v.end_ids.push_back(i);
    }
    v.grammar_vocab = std::make_shared<const GrammarVocab>(v.tokens, v.end_ids);
  }
  return cache.emplace(file, std::move(v)).first->second;
}

// Walks the grammar from its start, checking every mask against brute force (at most
// `checks` of them), choosing tokens with `rng`; returns the text generated.
std::string walk_and_check(const std::shared_ptr<const Grammar>& g, const Vocab& v, uint32_t seed, int max_steps,
                           int checks, bool* ended = nullptr) {
  GrammarMatcher m(std::make_shared<const CompiledGrammar>(g, v.grammar_vocab));
  std::mt19937 rng(seed);
  std::string text;
  const auto n = static_cast<int32_t>(v.tokens.size());
  for (int step = 0; step < max_steps; ++step) {
    std::vector<int32_t> got = mask_ids(m, n);
    if (step < checks) {
      const std::vector<int32_t> want = brute_force_ids(m, v.tokens, v.end_ids);
      EXPECT_EQ(got, want) << "step " << step << " after " << Json(text).dump();
      if (got != want) return text;
    }
    if (got.empty()) break;
    // Prefer the end when allowed half of the time, so walks finish.
    int32_t token = got[rng() % got.size()];
    for (int32_t e : v.end_ids)
      if (std::binary_search(got.begin(), got.end(), e) && rng() % 2 == 0) token = e;
    EXPECT_TRUE(m.accept_token(token)) << token;
    if (std::find(v.end_ids.begin(), v.end_ids.end(), token) != v.end_ids.end()) {
      if (ended) *ended = true;
      EXPECT_TRUE(m.is_finished());
      break;
    }
    text += v.tokens[static_cast<size_t>(token)];
    if (m.is_finished()) {
      if (ended) *ended = true;
      break;
    }
  }
  return text;
}

const char* kPersonSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 8},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "color": {"enum": ["red", "green", "blue"]},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 3},
    "ok": {"type": "boolean"}
  },
  "required": ["name", "age", "color", "ok"],
  "additionalProperties": false
})";

void check_person(const std::string& text) {
  const Json j = Json::parse(text);  // throws (failing the test) unless valid JSON
  ASSERT_TRUE(j.is_object());
  for (const char* key : {"name", "age", "color", "ok"}) EXPECT_TRUE(j.contains(key)) << text;
  EXPECT_LE(j["name"].get<std::string>().size(), 8u * 4) << text;
  EXPECT_GE(j["age"].get<int>(), 0);
  EXPECT_LE(j["age"].get<int>(), 150);
  const std::string color = j["color"].get<std::string>();
  EXPECT_TRUE(color == "red" || color == "green" || color == "blue") << text;
  EXPECT_TRUE(j["ok"].is_boolean());
  if (j.contains("tags")) {
    EXPECT_LE(j["tags"].size(), 3u);
  }
  for (const auto& [k, val] : j.items())
    EXPECT_TRUE(k == "name" || k == "age" || k == "color" || k == "tags" || k == "ok") << k;
}

std::vector<std::shared_ptr<const Grammar>> mask_grammars() {
  return {
      schema(kPersonSchema),
      Grammar::any_json_object(),
      schema(R"({"type": "array", "items": {"anyOf": [{"type": "number"}, {"type": "string", "pattern": "^[a-z]+\\d?$"}]}})"),
      gbnf(R"g(root ::= expr "=" num
expr ::= term (("+" | "*") term)*
term ::= num | "(" expr ")"
num ::= [0-9]+ ("." [0-9]+)?)g"),
      // Ambiguous on purpose: two rules read the same text, so the matcher holds several stacks.
      gbnf(R"g(root ::= a | b
a ::= "x" a "y" | "x" "(" a ")" | "z"
b ::= "x" b "y" | "xx" b "yy" | "z" | "日本" b)g"),
      gbnf(R"g(root ::= [^\x00-\x1f]{0,6} "\n")g"),
  };
}

TEST(Mask, SyntheticVocabularyMatchesBruteForce) {
  const Vocab v = synthetic_vocab();
  int finished = 0;
  for (const auto& g : mask_grammars())
    for (uint32_t seed = 1; seed <= 6; ++seed) {
      bool ended = false;
      walk_and_check(g, v, seed, 60, 60, &ended);
      finished += ended;
      if (HasFailure()) return;
    }
  EXPECT_GT(finished, 6);
}

// to_gbnf() must give back the same language: other layers compose grammars through it. The
// reparsed grammar's masks equal the original's at every step of random walks.
TEST(Mask, ToGbnfRoundTripGivesTheSameMasks) {
  const Vocab v = synthetic_vocab();
  std::vector<std::shared_ptr<const Grammar>> grammars = mask_grammars();
  for (const char* text : {
           R"({"type": "object", "properties": {"a": {"type": "string", "minLength": 1, "maxLength": 3},
               "b": {"enum": ["x\"y", "日本", "\u0001"]}, "c": {"type": "integer", "minimum": -5, "maximum": 120},
               "d": {"type": "string", "format": "date-time"}}, "additionalProperties": {"type": "number"}})",
           R"({"type": "array", "prefixItems": [{"const": null}, {"type": "string", "pattern": "^[^a-c\\\\]\\d*\\.?$"}],
               "items": {"type": "boolean"}, "maxItems": 4})",
       })
    grammars.push_back(schema(text));
  for (const auto& g : grammars) {
    const auto again = gbnf(g->to_gbnf());
    const auto a = std::make_shared<const CompiledGrammar>(g, v.grammar_vocab);
    const auto b = std::make_shared<const CompiledGrammar>(again, v.grammar_vocab);
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      GrammarMatcher ma(a), mb(b);
      std::mt19937 rng(seed);
      for (int step = 0; step < 50; ++step) {
        const std::vector<int32_t> ids = mask_ids(ma, static_cast<int32_t>(v.tokens.size()));
        ASSERT_EQ(ids, mask_ids(mb, static_cast<int32_t>(v.tokens.size()))) << g->to_gbnf();
        if (ids.empty() || ma.is_finished()) break;
        const int32_t t = ids[rng() % ids.size()];
        ASSERT_TRUE(ma.accept_token(t));
        ASSERT_TRUE(mb.accept_token(t));
      }
    }
  }
}

TEST(Mask, SyntheticRandomWalksSatisfyTheSchema) {
  const Vocab v = synthetic_vocab();
  const auto g = schema(kPersonSchema);
  int parsed = 0;
  for (uint32_t seed = 100; seed < 140; ++seed) {
    bool ended = false;
    const std::string text = walk_and_check(g, v, seed, 400, 0, &ended);
    if (!ended) continue;
    check_person(text);
    ++parsed;
  }
  EXPECT_GE(parsed, 20);
}

TEST(Mask, EndTokensAndControlTokens) {
  const Vocab v = synthetic_vocab();
  const int32_t eos = v.end_ids[0];
  const int32_t control = eos - 1;
  GrammarMatcher m(std::make_shared<const CompiledGrammar>(gbnf("root ::= \"a\" \"b\"?"), v.grammar_vocab));
  std::vector<int32_t> ids = mask_ids(m, static_cast<int32_t>(v.tokens.size()));
  EXPECT_FALSE(std::binary_search(ids.begin(), ids.end(), eos));
  EXPECT_FALSE(std::binary_search(ids.begin(), ids.end(), control));
  EXPECT_FALSE(m.accept_token(eos));
  EXPECT_FALSE(m.accept_token(control));
  EXPECT_TRUE(m.accept_token('a'));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.is_finished());  // "b" may still come
  ids = mask_ids(m, static_cast<int32_t>(v.tokens.size()));
  EXPECT_TRUE(std::binary_search(ids.begin(), ids.end(), eos));
  EXPECT_TRUE(std::binary_search(ids.begin(), ids.end(), int32_t('b')));
  EXPECT_TRUE(m.accept_token(eos));
  EXPECT_TRUE(m.is_finished());
  EXPECT_FALSE(m.accept_token('b'));
}

void real_vocab_walks(const std::string& file, int walks, int checks_per_walk) {
  const Vocab& v = model_vocab(file);
  if (!v.grammar_vocab) GTEST_SKIP() << "models/" << file << " is not downloaded";
  const auto grammars = mask_grammars();
  uint32_t seed = 11;
  for (int w = 0; w < walks; ++w) {
    walk_and_check(grammars[static_cast<size_t>(w) % grammars.size()], v, seed++, 40, checks_per_walk);
    if (::testing::Test::HasFailure()) return;
  }
  // Random walks under the schema end in valid, conforming JSON.
  const auto g = schema(kPersonSchema);
  int parsed = 0;
  for (uint32_t s = 0; s < 12; ++s) {
    bool ended = false;
    const std::string text = walk_and_check(g, v, 500 + s, 300, 0, &ended);
    if (!ended) continue;
    check_person(text);
    ++parsed;
  }
  EXPECT_GE(parsed, 6);
}

TEST(Mask, SmolLm2VocabularyMatchesBruteForce) { real_vocab_walks("SmolLM2-135M-Instruct.Q4_1.gguf", 12, 6); }
TEST(Mask, GemmaVocabularyMatchesBruteForce) { real_vocab_walks("gemma-3-270m-q4_k_m.gguf", 6, 3); }

}  // namespace
}  // namespace nagare::grammar_test
