// Grammar's insides: the rules as written (for to_gbnf) and the automaton compiled from them.
#pragma once

#include "grammar/grammar.h"
#include "grammar/grammar_ast.h"
#include "grammar/pda.h"

namespace nagare {

struct Grammar::Impl {
  grammar::GrammarAst ast;
  grammar::Pda pda;
};

}  // namespace nagare
