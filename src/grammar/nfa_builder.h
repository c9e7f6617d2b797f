// GrammarAst -> one byte-level NFA per kept rule (Thompson construction). Rules that are not
// recursive are inlined where they are used, so that most of a grammar (a whole JSON Schema
// without recursion) becomes one automaton and a parse stack grows only at real recursion.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/grammar_ast.h"

namespace nagare::grammar {

struct Nfa {
  enum EdgeKind : uint8_t { kEpsilon, kByte, kCall };
  struct Edge {
    uint32_t to;
    uint32_t rule;  // kCall: index among NfaSet::rules
    uint8_t kind, lo, hi;
  };
  std::vector<uint32_t> edge_begin;  // CSR by source state: edges of s are [edge_begin[s], edge_begin[s + 1])
  std::vector<Edge> edges;
  uint32_t start = 0, end = 0;
  uint32_t num_states() const { return static_cast<uint32_t>(edge_begin.size() - 1); }
};

struct NfaSet {
  std::vector<Nfa> rules;               // [0] is the root rule
  std::vector<std::string> names;       // each kept rule's name in the AST
};

// Throws GrammarError when the expansion passes limits.max_elements automaton states.
NfaSet build_nfas(const GrammarAst& ast, const GrammarLimits& limits);

}  // namespace nagare::grammar
