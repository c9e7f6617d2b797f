// The compiled grammar: a pushdown automaton over bytes. Each kept rule is a DFA whose edges
// read a byte or call a rule; a parse stack is a DFA state on top of the return states of the
// calls in progress. Nondeterminism is left only where a state may call a rule, read a byte or
// return, which the matcher follows with a set of stacks.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/grammar_ast.h"

namespace nagare::grammar {

using ByteSet = std::bitset<256>;

struct Pda {
  static constexpr uint32_t kDead = UINT32_MAX;
  enum Flag : uint8_t {
    kFinal = 1,      // the rule may end here
    kSimple = 2,     // not final and no calls: a byte only moves along the DFA
    kCanFinish = 4,  // the rule may end here after calls of rules that match the empty string
    kCanExtend = 8,  // some byte can be read before the rule ends
  };
  struct Call {
    uint32_t rule, ret;  // the rule called and the state it returns to
  };

  uint32_t num_classes = 0;
  std::array<uint8_t, 256> byte_class{};  // bytes every edge treats alike share a class
  std::vector<uint32_t> trans;            // [state * num_classes + class] -> state or kDead
  std::vector<uint32_t> call_begin;       // calls of state s: [call_begin[s], call_begin[s + 1])
  std::vector<Call> calls;
  std::vector<uint8_t> flags;
  std::vector<uint32_t> rule_of;

  std::vector<uint32_t> rule_start;
  std::vector<ByteSet> rule_first;   // bytes the rule's sentences can start with
  std::vector<ByteSet> rule_follow;  // bytes that can come right after the rule, anywhere
  std::vector<uint8_t> rule_nullable;
  std::vector<std::string> rule_names;  // rule 0 is the root

  uint32_t num_states() const { return static_cast<uint32_t>(flags.size()); }
  uint32_t next(uint32_t state, uint8_t byte) const { return trans[state * num_classes + byte_class[byte]]; }
  bool has(uint32_t state, Flag f) const { return flags[state] & f; }
};

// Compiles and checks: throws GrammarError for left recursion (naming the rules) and for a
// grammar past the limits.
Pda compile_pda(const GrammarAst& ast, const GrammarLimits& limits);

}  // namespace nagare::grammar
