// Building blocks of JSON text for the schema compiler: bounded whitespace, strings (with every
// escape), numbers, integer ranges as digit patterns, string formats, and the JSON encoding of a
// pattern over a string's decoded value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "grammar/grammar_ast.h"

namespace nagare::grammar {

// Shared named rules ("ws", "char", "string", "value", ...), each added to the AST on first use.
class JsonRules {
 public:
  explicit JsonRules(GrammarAst& ast) : ast_(ast) {}

  Expr ws();       // | " " | "\n"{1,2} [ \t]{0,20}: bounded, as llama.cpp's converter
  Expr chr();      // one JSON string character, raw or escaped
  Expr string();   // "\"" char* "\""
  Expr number();
  Expr integer();
  Expr boolean();
  Expr null();
  Expr value();    // any JSON value
  Expr object();   // any JSON object
  Expr array();    // any JSON array

 private:
  Expr rule(const std::string& name, Expr (JsonRules::*body)());
  Expr ws_body();
  Expr chr_body();
  Expr string_body();
  Expr number_body();
  Expr integer_body();
  Expr boolean_body();
  Expr null_body();
  Expr value_body();
  Expr object_body();
  Expr array_body();

  GrammarAst& ast_;
};

// The integers lo..hi (either side open when absent) as decimal digits, exactly, with no
// leading zeros and no "-0"; unbounded sides stop at 16 digits like JSON numbers here.
Expr integer_range(std::optional<int64_t> lo, std::optional<int64_t> hi);

// A pattern over a string's decoded code points -> the same over its JSON text (without the
// quotes): '"', '\' and control characters written as escapes, everything else raw.
Expr json_encode(const Expr& content);

// Decoded value patterns of the string formats date, time, date-time, uuid and email; nullopt
// for any other format (which is then an annotation).
std::optional<Expr> format_pattern(const std::string& format);

// Any string value except the given ones (the keys an object's extra properties may use).
Expr any_string_except(const std::vector<std::string>& values);

}  // namespace nagare::grammar
