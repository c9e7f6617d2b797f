// GrammarMatcher's contract: refused bytes leave the state as it was, copies are independent,
// completion and finishing, the end tokens, and the bounds (nesting depth, ambiguity) that end
// a sequence instead of crashing or growing without limit.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "grammar_test_util.h"

namespace nagare::grammar_test {
namespace {

constexpr int32_t kEnd = 256;  // byte_vocab()'s end token

std::vector<int32_t> ids_of(GrammarMatcher& m) { return mask_ids(m, 257); }

TEST(Matcher, RefusedBytesLeaveTheStateUnchanged) {
  GrammarMatcher m = matcher(gbnf(R"g(root ::= "ab" [0-9]+ "c")g"));
  EXPECT_TRUE(m.accept_bytes("ab1"));
  EXPECT_FALSE(m.accept_bytes("2x"));  // '2' fits, 'x' does not: nothing of it is taken
  EXPECT_TRUE(m.accept_bytes("2c"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_TRUE(m.is_finished());
  EXPECT_FALSE(m.accept_bytes("c"));
  EXPECT_TRUE(m.accept_bytes(""));
}

TEST(Matcher, CopiesAreIndependent) {
  GrammarMatcher a = matcher(gbnf(R"g(root ::= ("x" | "y")+)g"));
  ASSERT_TRUE(a.accept_bytes("x"));
  GrammarMatcher b = a;
  ASSERT_TRUE(b.accept_bytes("yy"));
  EXPECT_EQ(ids_of(a), (std::vector<int32_t>{'x', 'y', kEnd}));
  ASSERT_TRUE(b.accept_token(kEnd));
  EXPECT_TRUE(b.is_finished());
  EXPECT_FALSE(a.is_finished());
  GrammarMatcher c = std::move(b);
  EXPECT_TRUE(c.is_finished());
}

TEST(Matcher, CompleteAndFinished) {
  GrammarMatcher m = matcher(gbnf(R"g(root ::= "a" "b"? "c"*)g"));
  EXPECT_FALSE(m.is_complete());
  EXPECT_EQ(ids_of(m), (std::vector<int32_t>{'a'}));
  EXPECT_FALSE(m.accept_token(kEnd));
  ASSERT_TRUE(m.accept_token('a'));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.is_finished());
  EXPECT_EQ(ids_of(m), (std::vector<int32_t>{'b', 'c', kEnd}));
  ASSERT_TRUE(m.accept_token('b'));
  EXPECT_EQ(ids_of(m), (std::vector<int32_t>{'c', kEnd}));
  EXPECT_TRUE(m.accept_token(kEnd));
  EXPECT_TRUE(m.is_finished());
  EXPECT_EQ(ids_of(m), (std::vector<int32_t>{kEnd}));
  EXPECT_FALSE(m.accept_token('c'));
  EXPECT_FALSE(m.accept_token(-1));
  EXPECT_FALSE(m.accept_token(100000));
}

TEST(Matcher, CompletionThroughNestedRules) {
  // The sentence ends only when every rule on the stack may end.
  GrammarMatcher m = matcher(gbnf("root ::= \"<\" inner \">\"?\ninner ::= \"(\" inner \")\" | \"x\"\n"));
  ASSERT_TRUE(m.accept_bytes("<((x)"));
  EXPECT_FALSE(m.is_complete());
  ASSERT_TRUE(m.accept_bytes(")"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.is_finished());
  ASSERT_TRUE(m.accept_bytes(">"));
  EXPECT_TRUE(m.is_finished());
}

TEST(Matcher, DeepNestingIsBounded) {
  GrammarLimits limits;
  limits.max_stack_depth = 40;
  const auto g = Grammar::any_json_object();
  GrammarMatcher m = matcher(g, byte_vocab(), limits);
  ASSERT_TRUE(m.accept_bytes("{\"a\": "));
  int depth = 0;
  while (depth < 1000 && m.accept_bytes("[")) ++depth;
  EXPECT_GT(depth, 10);
  EXPECT_LT(depth, 40);
  // Past the bound '[' is refused, the rest goes on; the masks there come from a walk of the
  // whole stack (too deep for the precomputed ones) and still match brute force.
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back("");
  EXPECT_EQ(ids_of(m), brute_force_ids(m, tokens, {kEnd}));
  const std::vector<int32_t> at_bound = ids_of(m);
  EXPECT_FALSE(std::binary_search(at_bound.begin(), at_bound.end(), int32_t('[')));
  EXPECT_TRUE(std::binary_search(at_bound.begin(), at_bound.end(), int32_t(']')));
  ASSERT_TRUE(m.accept_bytes("]"));
  EXPECT_EQ(ids_of(m), brute_force_ids(m, tokens, {kEnd}));
  ASSERT_TRUE(m.accept_bytes(", 1"));
  EXPECT_EQ(ids_of(m), brute_force_ids(m, tokens, {kEnd}));
  for (int i = 1; i < depth; ++i) ASSERT_TRUE(m.accept_bytes("]")) << i;
  ASSERT_TRUE(m.accept_bytes("}"));
  EXPECT_TRUE(m.is_finished());
  // With the default bound, thousands of levels are refused without a crash.
  GrammarMatcher d = matcher(g);
  ASSERT_TRUE(d.accept_bytes("{\"a\": "));
  int deep = 0;
  while (deep < 5000 && d.accept_bytes("[")) ++deep;
  EXPECT_LT(deep, 512);
  EXPECT_FALSE(ids_of(d).empty());
}

TEST(Matcher, AmbiguityIsBounded) {
  // Each 'a' may open either rule: the pending closers are any sequence of 'b' and 'c', so the
  // parses double with each byte until the stack bound.
  const auto g = gbnf("root ::= x\nx ::= \"a\" y | \"a\" z\ny ::= x \"b\" | \"\"\nz ::= x \"c\" | \"\"\n");
  GrammarLimits limits;
  limits.max_stacks = 64;
  GrammarMatcher m = matcher(g, byte_vocab(), limits);
  int n = 0;
  for (; n < 40; ++n) {
    const std::vector<int32_t> ids = ids_of(m);
    if (ids == std::vector<int32_t>{kEnd} && !m.is_complete()) break;  // only the end is left
    ASSERT_TRUE(m.accept_bytes("a")) << n;
  }
  EXPECT_GT(n, 4);
  EXPECT_LT(n, 12);
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.accept_token(kEnd));  // the bound ends the sequence
  EXPECT_TRUE(m.is_finished());
  // Within the bound the ambiguous grammar matches exactly.
  EXPECT_TRUE(accepts(g, "aaacb"));  // a (a (a) c) b
  EXPECT_TRUE(accepts(g, "a"));
  EXPECT_FALSE(accepts(g, "aaa"));
  EXPECT_FALSE(accepts(g, "aacbb"));
}

TEST(Matcher, UnreachableBytesEndTheSequence) {
  // The vocabulary cannot write 'c': the mask holds only the end token, which is accepted.
  auto vocab = std::make_shared<const GrammarVocab>(std::vector<std::string>{"a", "b", ""}, std::vector<int32_t>{2});
  GrammarMatcher m = matcher(gbnf(R"g(root ::= "a" "c")g"), vocab);
  EXPECT_EQ(mask_ids(m, 3), (std::vector<int32_t>{0}));
  ASSERT_TRUE(m.accept_token(0));
  EXPECT_EQ(mask_ids(m, 3), (std::vector<int32_t>{2}));
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.accept_token(2));
  EXPECT_TRUE(m.is_finished());
}

TEST(Matcher, SharedCompiledGrammarAcrossThreads) {
  const auto g = schema(R"({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "array",
                           "items": {"type": "integer"}}}, "required": ["a", "b"]})");
  const auto compiled = std::make_shared<const CompiledGrammar>(g, byte_vocab());
  // Walks of four threads at once, each compared with a fresh matcher per step on its own grammar.
  auto walk = [&](uint32_t seed, std::vector<std::vector<int32_t>>& masks, std::vector<int32_t>& picks) {
    GrammarMatcher m(compiled);
    std::mt19937 rng(seed);
    for (int step = 0; step < 200; ++step) {
      masks.push_back(ids_of(m));
      if (masks.back().empty()) break;
      const int32_t t = masks.back()[rng() % masks.back().size()];
      picks.push_back(t);
      if (!m.accept_token(t) || m.is_finished()) break;
    }
  };
  std::vector<std::vector<std::vector<int32_t>>> masks(4);
  std::vector<std::vector<int32_t>> picks(4);
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < 4; ++i) threads.emplace_back(walk, i + 1, std::ref(masks[i]), std::ref(picks[i]));
  for (auto& t : threads) t.join();
  for (uint32_t i = 0; i < 4; ++i) {
    GrammarMatcher ref = matcher(g);
    for (size_t step = 0; step < masks[i].size(); ++step) {
      ASSERT_EQ(masks[i][step], ids_of(ref)) << i << " " << step;
      if (step < picks[i].size()) {
        ASSERT_TRUE(ref.accept_token(picks[i][step]));
      }
    }
  }
}

}  // namespace
}  // namespace nagare::grammar_test
