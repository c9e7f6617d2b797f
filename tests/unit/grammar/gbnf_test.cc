// GBNF as llama.cpp defines it: grammars in the style of its examples, each checked on strings
// that must match and strings that must not; syntax errors with positions; left recursion and
// blow-ups refused.
#include <gtest/gtest.h>

#include "grammar_test_util.h"

namespace nagare::grammar_test {
namespace {

TEST(Gbnf, Arithmetic) {
  const auto g = gbnf(R"g(
    root  ::= (expr "=" ws term "\n")+
    expr  ::= term ([-+*/] term)*
    term  ::= ident | num | "(" ws expr ")" ws
    ident ::= [a-z] [a-z0-9_]* ws
    num   ::= [0-9]+ ws
    ws    ::= [ \t\n]*
  )g");
  EXPECT_TRUE(accepts(g, "1+2=3\n"));
  EXPECT_TRUE(accepts(g, "(a+b)*c=x1\n(2)=2\n"));
  EXPECT_FALSE(accepts(g, "1+2=3"));   // the newline is part of each line
  EXPECT_FALSE(accepts(g, "1++2=3\n"));
  EXPECT_FALSE(accepts(g, "(1+2=3\n"));
  EXPECT_TRUE(accepts_prefix(g, "(1+2"));
}

TEST(Gbnf, JsonGrammar) {
  const auto g = gbnf(R"g(# a JSON grammar like llama.cpp's grammars/json.gbnf
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws ::= | " " | "\n" [ \t]{0,20}
)g");
  EXPECT_TRUE(accepts(g, R"g({"a": [1, 2.5, -3e4, "x\ny", {"b": null}], "c": true})g"));
  EXPECT_TRUE(accepts(g, "{}"));
  EXPECT_TRUE(accepts(g, "{\"\\u00e9\": \"日本\"}"));
  EXPECT_FALSE(accepts(g, "[1]"));
  EXPECT_FALSE(accepts(g, R"g({"a": 01x})g"));
  EXPECT_FALSE(accepts(g, R"g({"a" 1})g"));
  EXPECT_FALSE(accepts(g, "{\"a\": \"\x01\"}"));
  EXPECT_FALSE(accepts(g, R"g({"a": "\q"})g"));
}

TEST(Gbnf, ListsAndChess) {
  const auto list = gbnf(R"g(root ::= item+
# one item per line
item ::= "- " [^\r\n\x0b\x0c\x85\u2028\u2029]+ "\n")g");
  EXPECT_TRUE(accepts(list, "- milk\n- 卵\n"));
  EXPECT_FALSE(accepts(list, "- milk"));
  EXPECT_FALSE(accepts(list, "-\n"));

  const auto chess = gbnf(R"g(
root   ::= "1. " move " " move "\n" ([1-9] [0-9]? ". " move " " move "\n")+
move   ::= (pawn | nonpawn | castle) [+#]?
pawn   ::= ([a-h] "x")? [a-h] [1-8] ("=" [NBKQR])?
nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]
castle ::= "O-O" "-O"?
)g");
  EXPECT_TRUE(accepts(chess, "1. e4 e5\n2. Nf3 Nc6\n3. Bb5 a6\n4. O-O exd4+\n"));
  EXPECT_FALSE(accepts(chess, "1. e4 e5\n"));  // at least two moves
  EXPECT_FALSE(accepts(chess, "1. e9 e5\n2. Nf3 Nc6\n"));
  EXPECT_FALSE(accepts(chess, "1. e4 e5\n2. Zf3 Nc6\n"));
}

TEST(Gbnf, Repetitions) {
  const auto g = gbnf(R"g(root ::= "a"{2} "b"{1,3} "c"{2,} "d"? ("ef")*)g");
  EXPECT_TRUE(accepts(g, "aabcc"));
  EXPECT_TRUE(accepts(g, "aabbbcccccdefef"));
  EXPECT_FALSE(accepts(g, "abcc"));
  EXPECT_FALSE(accepts(g, "aabbbbcc"));
  EXPECT_FALSE(accepts(g, "aabc"));
  EXPECT_FALSE(accepts(g, "aabccdde"));
  const auto spaced = gbnf("root ::= [0-9]{ 1 , 2 } x\nx ::= \"x\"\n");
  EXPECT_TRUE(accepts(spaced, "12x"));
  EXPECT_FALSE(accepts(spaced, "123x"));
}

TEST(Gbnf, EscapesAndClasses) {
  const auto g = gbnf(R"g(root ::= "\x41\u00e9\U0001F600\t\\\"" [\x30-\x39\-] [^a-z] . "\n")g");
  EXPECT_TRUE(accepts(g, "Aé😀\t\\\"-Q日\n"));
  EXPECT_TRUE(accepts(g, "Aé😀\t\\\"5\xc3\xa9x\n"));
  EXPECT_FALSE(accepts(g, "Aé😀\t\\\"5qx\n"));
  EXPECT_FALSE(accepts(g, "Aé😀\t\\\"a5x\n"));
  // A rule name with dashes, a rule used before its definition, newlines inside parentheses.
  const auto h = gbnf("root ::= (\n  first-rule\n  | \"b\"\n)\nfirst-rule ::= \"a\"");
  EXPECT_TRUE(accepts(h, "a"));
  EXPECT_TRUE(accepts(h, "b"));
}

TEST(Gbnf, Japanese) {
  // Hiragana and katakana only, then a CJK ideograph.
  const auto g = gbnf(R"g(root ::= [ぁ-んァ-ヶー]+ [一-龯])g");
  EXPECT_TRUE(accepts(g, "ひらがなカタカナ漢"));
  EXPECT_FALSE(accepts(g, "ひらがなa漢"));
  EXPECT_FALSE(accepts(g, "漢"));
  // Byte by byte: a token may end inside a character.
  GrammarMatcher m = matcher(g);
  const std::string text = "ひら漢";
  for (char c : text) EXPECT_TRUE(m.accept_bytes(std::string(1, c)));
  EXPECT_TRUE(m.is_complete());
  GrammarMatcher bad = matcher(g);
  EXPECT_TRUE(bad.accept_bytes("\xe3\x81"));   // a prefix of ぁ..ん
  EXPECT_FALSE(bad.accept_bytes("\x41"));      // not a continuation byte
  EXPECT_FALSE(bad.accept_bytes("\xe3\x80\x80"));  // a continuation, but U+3000 is outside
}

TEST(Gbnf, ErrorsHavePositions) {
  EXPECT_EQ(error_of([] { gbnf("root ::= foo\n"); }), "line 1, column 10: undefined rule 'foo'");
  EXPECT_EQ(error_of([] { gbnf("a ::= \"x\"\n"); }), "the grammar has no rule named 'root'");
  EXPECT_EQ(error_of([] { gbnf("root ::= \"a\"\nx ::= \"abc\n"); }), "line 2, column 7: unterminated string literal");
  EXPECT_EQ(error_of([] { gbnf("root ::= [a-z\n"); }), "line 1, column 10: unterminated character class");
  EXPECT_EQ(error_of([] { gbnf("root ::= (\"a\" \n"); }), "line 1, column 10: unterminated group: expected ')'");
  EXPECT_EQ(error_of([] { gbnf("root ::= \"a\"\nroot ::= \"b\"\n"); }), "line 2, column 1: rule 'root' is defined twice");
  EXPECT_EQ(error_of([] { gbnf("root = \"a\"\n"); }), "line 1, column 6: expected '::=' after rule name 'root'");
  EXPECT_EQ(error_of([] { gbnf("root ::= * \"a\"\n"); }), "line 1, column 10: a repetition operator must follow an item");
  EXPECT_EQ(error_of([] { gbnf("root ::= \"\\q\"\n"); }), "line 1, column 11: unknown escape '\\q'");
  EXPECT_EQ(error_of([] { gbnf("root ::= \"a\"{3,2}\n"); }), "line 1, column 13: repetition maximum is below its minimum");
  EXPECT_EQ(error_of([] { gbnf("root ::= \"a\" )\n"); }), "line 1, column 14: unmatched ')'");
  EXPECT_NE(error_of([] { gbnf("root ::= <[12]>\n"); }).find("token references"), std::string::npos);
}

TEST(Gbnf, LeftRecursionRefused) {
  EXPECT_EQ(error_of([] { gbnf("root ::= expr\nexpr ::= expr \"+\" num | num\nnum ::= [0-9]+\n"); }),
            "left recursion in rule 'expr' (expr -> expr); rewrite it right-recursive, e.g. expr ::= term (\"+\" term)*");
  const std::string indirect = error_of([] { gbnf("root ::= a\na ::= b \"x\" | \"y\"\nb ::= a \"z\"\n"); });
  EXPECT_NE(indirect.find("left recursion in rule"), std::string::npos) << indirect;
  EXPECT_NE(indirect.find("a -> b"), std::string::npos) << indirect;
  // Through a prefix that can be empty.
  const std::string nullable = error_of([] { gbnf("root ::= a\na ::= opt a \"x\" | \"y\"\nopt ::= \"o\"?\n"); });
  EXPECT_NE(nullable.find("left recursion in rule 'a'"), std::string::npos) << nullable;
  const std::string nullable_rule = error_of([] {
    gbnf("root ::= a\na ::= e a \"x\" | \"y\"\ne ::= \"(\" e \")\" | \n");
  });
  EXPECT_NE(nullable_rule.find("left recursion"), std::string::npos) << nullable_rule;
  // Right recursion is fine.
  const auto right = gbnf("root ::= a\na ::= \"x\" a | \"y\"\n");
  EXPECT_TRUE(accepts(right, "xxxy"));
}

TEST(Gbnf, BlowUpRefused) {
  const std::string huge = error_of([] { gbnf("root ::= \"abc\"{100000}\n"); });
  EXPECT_NE(huge.find("line 1, column 15: the grammar expands past the limit"), std::string::npos) << huge;
  const std::string nested = error_of([] { gbnf("root ::= ((\"ab\"{100}){100}){100}\n"); });
  EXPECT_NE(nested.find("expands past the limit"), std::string::npos) << nested;
  GrammarLimits small;
  small.max_source_bytes = 10;
  EXPECT_NE(error_of([&] { Grammar::from_gbnf("root ::= \"aaaaaaaaaaaaa\"", small); }).find("past the limit of 10"),
            std::string::npos);
  // Exponentially many DFA states (the n-th symbol from the end).
  const std::string dfa = error_of([] { gbnf("root ::= [ab]* \"a\" [ab]{20}\n"); });
  EXPECT_NE(dfa.find("too complex"), std::string::npos) << dfa;
}

TEST(Gbnf, SyntaxCorners) {
  // CRLF line ends, underscores in names, an empty alternative, an empty literal, comments
  // everywhere, a rule on one line continued after '|'.
  const auto g = gbnf("root ::= a_b | \r\n  \"\" # empty\r\na_b ::= \"x\" \"\" ( # c\n \"y\" )? # end\r\n");
  EXPECT_TRUE(accepts(g, ""));
  EXPECT_TRUE(accepts(g, "x"));
  EXPECT_TRUE(accepts(g, "xy"));
  EXPECT_FALSE(accepts(g, "y"));
  // A class with its special characters escaped, and '^' not first.
  const auto cls = gbnf(R"g(root ::= [\]\[\-a^]+)g");
  EXPECT_TRUE(accepts(cls, "]-[a^"));
  EXPECT_FALSE(accepts(cls, "b"));
  EXPECT_TRUE(accepts(gbnf(cls->to_gbnf()), "^^]"));
  // Nesting deep enough to overflow a recursive parser is refused instead.
  const std::string deep = "root ::= " + std::string(100000, '(') + "\"a\"" + std::string(100000, ')');
  EXPECT_NE(error_of([&] { gbnf(deep); }).find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of([] { gbnf("root ::= \"\\xZZ\""); }).find("hex digits"), std::string::npos);
  EXPECT_NE(error_of([] { gbnf("root ::= \"\\uD800\""); }).find("not a valid Unicode code point"), std::string::npos);
}

TEST(Gbnf, RoundTripsThroughToGbnf) {
  const auto g = gbnf(R"g(root ::= "x" ("a" | [e-z] | "\"")* list? "\n"
list ::= "[" [0-9]{1,3} ("," [0-9]{1,3})* "]")g");
  const auto again = gbnf(g->to_gbnf());
  for (const char* s : {"x\n", "xa\"q[1,22]\n", "x[123]\n", "xzz\n"}) {
    EXPECT_TRUE(accepts(g, s)) << s;
    EXPECT_TRUE(accepts(again, s)) << s;
  }
  for (const char* s : {"xb\n", "x[1234]\n", "x[]\n", "x[1]\"\n"}) {
    EXPECT_FALSE(accepts(g, s)) << s;
    EXPECT_FALSE(accepts(again, s)) << s;
  }
}

}  // namespace
}  // namespace nagare::grammar_test
