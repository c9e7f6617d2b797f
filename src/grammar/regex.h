// A JSON Schema "pattern": the subset of ECMA-262 regular expressions in
// docs/structured-output.md, as an expression over the code points of a string's value.
#pragma once

#include <string>
#include <string_view>

#include "grammar/grammar_ast.h"

namespace nagare::grammar {

// Unanchored ends match anything, as JSON Schema specifies ("b" matches "abc"). Throws
// GrammarError naming `where` and the unsupported feature (lookaround, backreference, ...).
Expr parse_regex(std::string_view pattern, const std::string& where);

}  // namespace nagare::grammar
