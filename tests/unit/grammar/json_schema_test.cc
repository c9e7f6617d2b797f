// JSON Schema -> grammar: every supported keyword with strings that must match and strings that
// must not, refusals naming the keyword and its JSON pointer, and the bounds on hostile schemas.
#include <gtest/gtest.h>

#include "grammar_test_util.h"

namespace nagare::grammar_test {
namespace {

void expect_all(const std::shared_ptr<const Grammar>& g, std::initializer_list<const char*> good,
                std::initializer_list<const char*> bad) {
  for (const char* s : good) EXPECT_TRUE(accepts(g, s)) << "should match: " << s << "\n" << g->to_gbnf();
  for (const char* s : bad) EXPECT_FALSE(accepts(g, s)) << "should not match: " << s << "\n" << g->to_gbnf();
}

TEST(JsonSchema, AnyValue) {
  for (const char* text : {"{}", "true"}) {
    expect_all(schema(text),
               {"1", "-0.5e+10", "\"x\\u00e9\"", "null", "true", "[]", "[1, [2, {}]]", "{\"a\": {\"b\": [null]}}",
                "{\n  \"a\": 1,\n  \"b\": 2\n}"},
               {"", "01", "1.", ".5", "\"\\x\"", "{a: 1}", "[1,]", "nul", "\"a\" ", " 1", "1\n", "{\"a\": 1,}"});
  }
}

TEST(JsonSchema, Primitives) {
  expect_all(schema(R"({"type": "string"})"), {"\"\"", "\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u12aF\"", "\"日本\""},
             {"\"a", "\"\n\"", "\"\\u12g0\"", "\"\\a\"", "'a'"});
  expect_all(schema(R"({"type": "integer"})"), {"0", "-12", "1234567890123456"}, {"-0.5", "1e3", "00", "-", "+1"});
  expect_all(schema(R"({"type": "number"})"), {"0", "-1.25", "3e8", "1E-5", "0.0001"}, {"1.", "-", "01", "1e"});
  expect_all(schema(R"({"type": "boolean"})"), {"true", "false"}, {"True", "1"});
  expect_all(schema(R"({"type": "null"})"), {"null"}, {"None", ""});
  expect_all(schema(R"({"type": ["string", "null"]})"), {"null", "\"x\""}, {"1"});
  expect_all(schema(R"({"type": ["integer", "string"], "maxLength": 2, "maximum": 5})"), {"5", "\"ab\"", "-7"},
             {"6", "\"abc\""});
}

TEST(JsonSchema, ObjectProperties) {
  const auto g = schema(R"({
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "tags"]
  })");
  expect_all(g,
             {R"({"name": "a", "tags": []})", R"({"name": "a", "age": 3, "tags": ["x", "y"]})",
              "{\n  \"name\": \"a\",\n  \"tags\": [\n    \"x\"\n  ]\n}"},
             {R"({"name": "a"})", R"({"tags": [], "name": "a"})",  // order is the schema's
              R"({"name": "a", "tags": [], "extra": 1})", R"({"name": "a", "age": "3", "tags": []})",
              R"({"name": "a", "tags": [],})", R"({"name": "a",, "tags": []})"});
}

TEST(JsonSchema, OptionalPropertiesInterleaved) {
  const auto g = schema(R"({"properties": {"a": {"const": 1}, "b": {"const": 2}, "c": {"const": 3}}, "required": ["b"]})");
  expect_all(g, {R"({"b": 2})", R"({"a": 1, "b": 2})", R"({"b": 2, "c": 3})", R"({"a": 1, "b": 2, "c": 3})"},
             {"{}", R"({"a": 1})", R"({"a": 1, "c": 3})", R"({"c": 3, "b": 2})", R"({, "b": 2})"});
  const auto none = schema(R"({"type": "object", "properties": {"a": {"const": 1}, "b": {"const": 2}}})");
  expect_all(none, {"{}", "{ }", R"({"a": 1})", R"({"b": 2})", R"({"a": 1, "b": 2})"}, {R"({"b": 2, "a": 1})", "{,}"});
}

TEST(JsonSchema, AdditionalProperties) {
  expect_all(schema(R"({"type": "object"})"), {"{}", R"({"x": [1], "y": {"z": null}})"}, {"[]", R"({"x"})"});
  expect_all(schema(R"({"type": "object", "additionalProperties": {"type": "integer"}})"),
             {"{}", R"({"x": 1, "y": 2})"}, {R"({"x": "1"})"});
  expect_all(schema(R"({"properties": {"a": {"type": "integer"}}, "additionalProperties": true})"),
             {R"({"a": 1, "b": "x"})", R"({"b": "x"})", R"({"ab": 1, "c": 2})", "{}"},
             {R"({"b": 1, "a": 1})", R"({"a": 1, "a": 2})"});
  expect_all(schema(R"({"properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": false})"),
             {R"({"a": 1})"}, {R"({"a": 1, "b": 2})", "{}"});
}

TEST(JsonSchema, Arrays) {
  expect_all(schema(R"({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3})"),
             {"[1]", "[1, 2, 3]", "[ 1,2 ]"}, {"[]", "[1, 2, 3, 4]", "[1, \"a\"]"});
  expect_all(schema(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2})"), {"[1, 2]", "[1,2,3,4,5]"},
             {"[1]"});
  expect_all(schema(R"({"type": "array", "maxItems": 0})"), {"[]"}, {"[1]"});
  expect_all(schema(R"({"prefixItems": [{"type": "string"}, {"type": "integer"}], "minItems": 1})"),
             {R"(["a"])", R"(["a", 1])"}, {"[]", R"(["a", 1, 2])", R"([1, "a"])"});
  expect_all(schema(R"({"prefixItems": [{"const": "x"}], "items": {"type": "integer"}})"),
             {"[]", R"(["x"])", R"(["x", 1, 2])"}, {"[1]", R"(["x", "y"])"});
  expect_all(schema(R"({"type": "array", "items": [{"const": 1}, {"const": 2}], "minItems": 2})"), {"[1, 2]"},
             {"[1]", "[1, 2, 3]"});
}

TEST(JsonSchema, EnumConstAnyOfAllOf) {
  expect_all(schema(R"({"enum": ["red", "green", 3, null, {"a": [1]}]})"),
             {"\"red\"", "\"green\"", "3", "null", "{\"a\":[1]}"}, {"\"blue\"", "\"Red\"", "4", "{\"a\": [1]}"});
  expect_all(schema(R"({"const": "a\"b"})"), {R"("a\"b")"}, {R"("ab")"});
  expect_all(schema(R"({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]})"), {"1", "\"a\""},
             {"\"ab\"", "null"});
  expect_all(schema(R"({"oneOf": [{"type": "boolean"}, {"type": "null"}]})"), {"true", "null"}, {"1"});
  expect_all(schema(R"({"allOf": [{"type": "integer", "minimum": 3}]})"), {"3", "40"}, {"2"});
  expect_all(schema(R"({"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]},
                                  {"properties": {"b": {"type": "string"}}}]})"),
             {R"({"a": 1})", R"({"a": 1, "b": "x"})"}, {R"({"b": "x"})", R"({"a": 1, "c": 1})"});
  EXPECT_NE(error_of([] { schema(R"({"allOf": [{"type": "integer"}, {"minimum": 3}]})"); }).find("allOf"),
            std::string::npos);
}

TEST(JsonSchema, RefsAndRecursion) {
  const auto g = schema(R"({
    "$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}},
                       "required": ["v", "next"]}},
    "$ref": "#/$defs/node"
  })");
  expect_all(g, {R"({"v": 1, "next": null})", R"({"v": 1, "next": {"v": 2, "next": {"v": 3, "next": null}}})"},
             {R"({"v": 1})", R"({"v": 1, "next": {"v": 2}})"});
  expect_all(schema(R"({"definitions": {"a b": {"type": "integer"}}, "properties": {"x": {"$ref": "#/definitions/a%20b"}}, "required": ["x"]})"),
             {R"({"x": 5})"}, {R"({"x": "5"})"});
  expect_all(schema(R"({"type": "array", "items": {"$ref": "#"}, "maxItems": 2})"), {"[]", "[[], [[]]]"}, {"[1]", "[[], [], []]"});
  EXPECT_EQ(error_of([] { schema(R"({"$ref": "https://example.com/s.json"})"); }),
            "only local '$ref' (\"#/...\") is supported, not 'https://example.com/s.json' at /$ref");
  EXPECT_EQ(error_of([] { schema(R"({"properties": {"a": {"$ref": "#/$defs/missing"}}})"); }),
            "'$ref' '#/$defs/missing' does not resolve in this schema at /properties/a/$ref");
}

TEST(JsonSchema, RecursiveRefWhoseBodyAddsRules) {
  // Found by grammar_fuzz: compiling a $ref's body adds rules, which once moved the name the
  // body was being compiled under (a use after free under ASan).
  auto g = schema(R"({"type": "array", "items": {"$ref": "#/$defs/t"}, "$defs": {"t": {"anyOf": [
      {"type": "string", "format": "date"}, {"type": "array", "items": {"$ref": "#/$defs/t"}, "maxItems": 2}]}}})");
  expect_all(g, {"[\"2024-02-29\",[[]]]", "[]", "[[\"2026-01-31\"]]"}, {"[[[]]", "[\"2026-02-29\"]"});
}

TEST(JsonSchema, AutomatonBlowUpIsRefused) {
  // Found by grammar_fuzz: an unanchored pattern with a counted class took seconds to compile
  // before the automaton's states got their own bound.
  EXPECT_NE(error_of([] { schema(R"({"type": "string", "pattern": "a[a-z]{30}b"})"); }).find("too complex"),
            std::string::npos);
  schema(R"({"type": "string", "pattern": "^a[a-z]{30}b$"})");  // anchored: small
}

TEST(JsonSchema, StringFormats) {
  // Each month its days; 29 February in leap years only (2000 is one, 1900 and 2100 are not).
  expect_all(schema(R"({"type": "string", "format": "date"})"),
             {"\"2024-02-29\"", "\"1999-12-31\"", "\"2000-02-29\"", "\"1996-02-29\"", "\"2026-04-30\"",
              "\"2026-02-28\"", "\"0004-02-29\"", "\"2012-02-29\"", "\"1600-02-29\""},
             {"\"2024-13-01\"", "\"2024-1-01\"", "\"24-01-01\"", "\"2024-01-32\"", "\"2026-02-29\"",
              "\"1900-02-29\"", "\"2100-02-29\"", "\"2026-02-30\"", "\"2026-04-31\"", "\"2026-11-31\"",
              "\"2026-00-10\"", "\"2026-01-00\"", "\"2002-02-29\"", "\"2010-02-29\""});
  expect_all(schema(R"({"type": "string", "format": "time"})"), {"\"23:59:59Z\"", "\"08:00:00.123+09:00\""},
             {"\"24:00:00Z\"", "\"12:00:00\"", "\"12:60:00Z\""});
  expect_all(schema(R"({"type": "string", "format": "date-time"})"), {"\"2024-05-06T07:08:09Z\""}, {"\"2024-05-06 07:08:09Z\""});
  expect_all(schema(R"({"type": "string", "format": "uuid"})"), {"\"123e4567-e89b-12d3-a456-426614174000\""},
             {"\"123e4567e89b12d3a456426614174000\"", "\"123e4567-e89b-12d3-a456-42661417400g\""});
  expect_all(schema(R"({"type": "string", "format": "email"})"), {"\"a.b+c@example.co.jp\""},
             {"\"a@b\"", "\"@example.com\"", "\"a b@example.com\""});
  // Another format is refused rather than silently not enforced.
  EXPECT_EQ(error_of([] { schema(R"({"type": "string", "format": "hostname"})"); }),
            "unsupported format 'hostname' (supported: date, time, date-time, uuid, email) at /format");
}

TEST(JsonSchema, StringLength) {
  expect_all(schema(R"({"type": "string", "minLength": 2, "maxLength": 3})"),
             {"\"ab\"", "\"abc\"", "\"日本\"", "\"\\n\\u0041\""}, {"\"a\"", "\"abcd\"", "\"日\""});
}

TEST(JsonSchema, Pattern) {
  expect_all(schema(R"({"type": "string", "pattern": "^[A-Z]{2}-\\d{3,4}$"})"), {"\"AB-123\"", "\"XY-9999\""},
             {"\"ab-123\"", "\"AB-12\"", "\"AB-12345\"", "\" AB-123\""});
  // Unanchored: the match may be anywhere.
  expect_all(schema(R"({"pattern": "cat|dog"})"), {"\"cat\"", "\"a dog!\"", "\"concatenate\""}, {"\"cow\""});
  expect_all(schema(R"({"pattern": "^(\\w+\\.)*\\w+$"})"), {"\"a.b_c.d1\"", "\"x\""}, {"\"a..b\"", "\".a\"", "\"a.\""});
  expect_all(schema(R"({"pattern": "^[^\"\\\\]*\"\\s?$"})"), {R"("ab\"")", R"("\" ")", R"("\"\n")"}, {R"("a\\\"")"});
  expect_all(schema(R"({"pattern": "^a.c$"})"), {"\"abc\"", "\"a\\\"c\"", "\"a日c\""}, {"\"a\\nc\"", "\"ac\""});
  expect_all(schema(R"({"pattern": "^(?:ab|cd)+?e{2}[^x-z]\\.$"})"), {"\"abcdeea.\""}, {"\"abeex.\"", "\"abeea\""});
  for (auto [pattern, feature] : std::initializer_list<std::pair<const char*, const char*>>{
           {"(?=a)", "lookahead"}, {"(?<!a)b", "lookbehind"}, {"(a)\\1", "backreference"}, {"\\bword", "word boundary"},
           {"\\p{L}", "Unicode property"}, {"a^b", "'^'"}}) {
    const std::string err = error_of([&] { schema(std::string(R"({"pattern": ")") + Json(pattern).dump().substr(1) + "}"); });
    EXPECT_NE(err.find(feature), std::string::npos) << pattern << ": " << err;
    EXPECT_NE(err.find("/pattern"), std::string::npos) << err;
  }
}

TEST(JsonSchema, IntegerRanges) {
  struct Case {
    const char* schema;
    std::vector<int64_t> good, bad;
  };
  const std::vector<Case> cases = {
      {R"({"type": "integer", "minimum": 0})", {0, 1, 9, 10, 99999}, {-1, -10}},
      {R"({"type": "integer", "minimum": 17, "maximum": 243})", {17, 18, 19, 20, 99, 100, 199, 200, 239, 240, 243},
       {16, 9, 244, 250, 300, 1000, -17}},
      {R"({"type": "integer", "exclusiveMinimum": -5, "exclusiveMaximum": 5})", {-4, 0, 4}, {-5, 5, -50, 10}},
      {R"({"type": "integer", "maximum": -10})", {-10, -11, -100, -99999}, {-9, 0, 10}},
      {R"({"type": "integer", "minimum": -120, "maximum": -3})", {-120, -100, -99, -10, -3}, {-121, -2, 0, 3}},
      {R"({"type": "integer", "minimum": 1.5, "maximum": 3.7})", {2, 3}, {1, 4}},
      {R"({"type": "integer", "minimum": 5, "exclusiveMinimum": true})", {6}, {5}},
      {R"({"type": "integer", "minimum": 1000})", {1000, 1001, 9999, 10000, 123456789}, {999, 0, 100}},
  };
  for (const Case& c : cases) {
    const auto g = schema(c.schema);
    for (int64_t v : c.good) EXPECT_TRUE(accepts(g, std::to_string(v))) << c.schema << " " << v;
    for (int64_t v : c.bad) EXPECT_FALSE(accepts(g, std::to_string(v))) << c.schema << " " << v;
    EXPECT_FALSE(accepts(g, "-0")) << c.schema;
  }
  // Exhaustively on a range that crosses digit counts and zero.
  const auto g = schema(R"({"type": "integer", "minimum": -37, "maximum": 1205})");
  for (int v = -1500; v <= 1500; ++v) EXPECT_EQ(accepts(g, std::to_string(v)), v >= -37 && v <= 1205) << v;
  EXPECT_FALSE(accepts(g, "007"));
  EXPECT_NE(error_of([] { schema(R"({"type": "integer", "minimum": 5, "maximum": 4})"); }).find("empty"), std::string::npos);
}

TEST(JsonSchema, UnsupportedKeywordsNamed) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"type": "object", "patternProperties": {"^a": {}}})", "unsupported JSON Schema keyword 'patternProperties' at /"},
      {R"({"properties": {"a": {"type": "array", "uniqueItems": true}}})",
       "unsupported JSON Schema keyword 'uniqueItems' at /properties/a"},
      {R"({"properties": {"a/b": {"not": {}}}})", "unsupported JSON Schema keyword 'not' at /properties/a~1b"},
      {R"({"items": {"multipleOf": 2}})", "unsupported JSON Schema keyword 'multipleOf' at /items"},
      {R"({"if": {}, "then": {}})", "unsupported JSON Schema keyword 'if' at /"},
      {R"({"type": "object", "minProperties": 1})", "unsupported JSON Schema keyword 'minProperties' at /"},
      {R"({"dependentRequired": {}})", "unsupported JSON Schema keyword 'dependentRequired' at /"},
      {R"({"type": "array", "contains": {}})", "unsupported JSON Schema keyword 'contains' at /"},
      {R"({"$defs": {"x": {"propertyNames": {}}}, "$ref": "#/$defs/x"})",
       "unsupported JSON Schema keyword 'propertyNames' at /$defs/x"},
      {R"({"type": "number", "minimum": 0})", "'minimum' is supported for integers only, not 'number' at /minimum"},
  };
  for (const auto& [text, message] : cases) EXPECT_EQ(error_of([&] { schema(text); }), message) << text;
}

TEST(JsonSchema, AnnotationsIgnored) {
  expect_all(schema(R"({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "x", "title": "T",
                        "description": "d", "default": 1, "examples": [1], "deprecated": false, "readOnly": true,
                        "writeOnly": false, "$comment": "c", "type": "integer"})"),
             {"1"}, {"\"1\""});
}

TEST(JsonSchema, OpenAiStrictSchema) {
  const auto g = schema(R"({
    "type": "object",
    "properties": {
      "location": {"type": "string", "description": "City"},
      "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit", null]},
      "days": {"type": "array", "items": {"type": "object", "properties": {"day": {"type": "integer"}},
               "required": ["day"], "additionalProperties": false}}
    },
    "required": ["location", "unit", "days"],
    "additionalProperties": false
  })");
  expect_all(g, {R"({"location": "Tokyo", "unit": null, "days": [{"day": 1}]})",
                 R"({"location":"Paris","unit":"celsius","days":[]})"},
             {R"({"location": "Tokyo", "unit": "kelvin", "days": []})", R"({"location": "Tokyo", "days": []})"});
}

TEST(JsonSchema, WhitespaceIsBoundedAndNeverTrails) {
  const auto g = schema(R"({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})");
  EXPECT_TRUE(accepts(g, "{\n    \"a\": 1\n}"));
  EXPECT_FALSE(accepts(g, "{" + std::string(30, ' ') + "\"a\": 1}"));
  EXPECT_FALSE(accepts(g, "{\n" + std::string(30, ' ') + "\"a\": 1}"));
  GrammarMatcher m = matcher(g);
  ASSERT_TRUE(m.accept_bytes("{\"a\": 12}"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_TRUE(m.is_finished());  // nothing may follow the object
  EXPECT_FALSE(m.accept_bytes(" "));
  GrammarMatcher n = matcher(g);
  ASSERT_TRUE(n.accept_bytes("{\"a\": 12"));
  EXPECT_FALSE(n.is_complete());
}

TEST(JsonSchema, HugeEnumsAndLengthsBounded) {
  Json big = Json::object();
  big["enum"] = Json::array();
  for (int i = 0; i < 40000; ++i) big["enum"].push_back("value-" + std::to_string(i));
  const std::string err = error_of([&] { Grammar::from_json_schema(big); });
  EXPECT_NE(err.find("expands past the limit"), std::string::npos) << err;
  EXPECT_NE(err.find("/enum"), std::string::npos) << err;
  Json moderate = Json::object();
  moderate["enum"] = Json::array();
  for (int i = 0; i < 2000; ++i) moderate["enum"].push_back("value-" + std::to_string(i));
  const auto g = Grammar::from_json_schema(moderate);
  EXPECT_TRUE(accepts(g, "\"value-1999\""));
  EXPECT_FALSE(accepts(g, "\"value-2000\""));
  const std::string len = error_of([] { schema(R"({"type": "string", "maxLength": 100000000})"); });
  EXPECT_NE(len.find("expands past the limit"), std::string::npos) << len;
  EXPECT_NE(len.find("/maxLength"), std::string::npos) << len;
  // A long but acceptable bound: items called, not copied, thousands of times.
  const auto items = schema(R"({"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}, "maxItems": 3000})");
  EXPECT_TRUE(accepts(items, R"([{"a": "x"}, {}])"));
}

TEST(JsonSchema, ManyOptionalPropertiesAndDeepSchemas) {
  Json wide = Json::object();
  wide["properties"] = Json::object();
  for (int i = 0; i < 300; ++i) wide["properties"]["p" + std::to_string(i)] = Json{{"type", "integer"}};
  const auto g = Grammar::from_json_schema(wide);
  EXPECT_TRUE(accepts(g, R"({"p7": 1, "p250": 2, "p299": 3})"));
  EXPECT_FALSE(accepts(g, R"({"p250": 2, "p7": 1})"));
  Json deep = Json{{"type", "integer"}};
  for (int i = 0; i < 200; ++i) deep = Json{{"type", "array"}, {"items", deep}};
  EXPECT_NE(error_of([&] { Grammar::from_json_schema(deep); }).find("nested too deeply"), std::string::npos);
  Json deeper = Json::array();
  for (int i = 0; i < 3000; ++i) deeper = Json::array({std::move(deeper)});  // nlohmann itself recurses
  EXPECT_NE(error_of([&] { Grammar::from_json_schema(Json{{"enum", deeper}}); }).find("nested too deeply"),
            std::string::npos);
}

TEST(JsonSchema, ToGbnfCompilesBack) {
  const auto g = schema(R"({"type": "object", "properties": {"id": {"type": "integer", "minimum": 1},
                            "name": {"type": "string", "pattern": "^[a-z]+$"}, "when": {"type": "string", "format": "date"}},
                            "required": ["id"]})");
  const auto again = gbnf(g->to_gbnf());
  for (const char* s : {R"({"id": 1})", R"({"id": 10, "name": "ab", "when": "2020-01-02"})"}) {
    EXPECT_TRUE(accepts(g, s)) << s;
    EXPECT_TRUE(accepts(again, s)) << s << "\n" << g->to_gbnf();
  }
  for (const char* s : {R"({"id": 0})", R"({"id": 1, "name": "A"})"}) {
    EXPECT_FALSE(accepts(g, s)) << s;
    EXPECT_FALSE(accepts(again, s)) << s;
  }
}

TEST(JsonSchema, AnyJsonObject) {
  const auto g = Grammar::any_json_object();
  expect_all(g, {"{}", R"({"a": [1, {"b": null}], "c": "d"})"}, {"[]", "1", "\"a\"", "{} "});
}

}  // namespace
}  // namespace nagare::grammar_test
