// Parser for the Jinja subset: tokens -> statement list, following jinja2's grammar and operator
// precedence. Nesting is bounded so hostile templates get a SyntaxError, not a stack overflow.
#pragma once

#include <string>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace nagare::jinja {

// Deepest syntax tree accepted; keeps the parser's and the evaluator's recursion bounded.
inline constexpr int kMaxSyntaxDepth = 200;

// Parses a normalized template source. Throws SyntaxError.
StmtList parse_template(const std::string& src);

// Filters and tests the interpreter implements (jinja_filters.cc); the parser rejects others
// outside {% if %} / conditional expressions, as jinja2 does at compile time.
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

}  // namespace nagare::jinja
