// llama.cpp's GBNF text -> GrammarAst, with "line L, column C" in every error.
#pragma once

#include <string_view>

#include "grammar/grammar_ast.h"

namespace nagare::grammar {

// Throws GrammarError for a syntax error, an undefined rule or a missing root rule.
GrammarAst parse_gbnf(std::string_view text);

}  // namespace nagare::grammar
