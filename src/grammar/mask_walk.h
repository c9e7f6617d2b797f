// Token masks by walking the vocabulary trie with a set of parse stacks: the per-state
// precomputation (what a state's own rule decides, whatever the stack below: XGrammar's
// context-independent tokens) and the run-time checks of the tokens left uncertain.
#pragma once

#include <cstdint>
#include <vector>

#include "grammar/pda.h"
#include "grammar/stack_arena.h"
#include "grammar/vocab_trie.h"

namespace nagare::grammar {

// For one DFA state, from its own frame alone: the tokens accepted in any context (read whole
// without ending the state's rule, or ending it with the last byte), and the trie nodes whose
// tokens end the rule with bytes left over and so depend on the stack below. Every other token is
// rejected in any context: it fails inside the frame, or the byte after the rule's end can never
// follow the rule.
struct StateMasks {
  static constexpr uint32_t kWholeSubtree = 0x80000000u;  // flag on an uncertain node

  std::vector<int32_t> accepted_ids;     // when few are accepted
  std::vector<uint64_t> accepted_bits;   // otherwise, a mask
  std::vector<uint32_t> uncertain;       // trie nodes in preorder, some | kWholeSubtree

  void or_into(uint64_t* mask) const;
  size_t memory_bytes() const;
};

class MaskWalker {
 public:
  // `max_depth`: the stack depth a walk may push to (relative to its start for precompute).
  MaskWalker(const Pda& pda, const GrammarVocab::Impl& vocab, StackArena& arena, const GrammarLimits& limits,
             uint32_t max_depth);

  // Needs an arena of its own (its nodes sit on kLocal).
  StateMasks precompute(uint32_t state);
  // Sets the bits of the `uncertain` tokens (a StateMasks list) that stack `s` accepts.
  void check_uncertain(Stack s, const std::vector<uint32_t>& uncertain, uint64_t* mask);
  // Sets the bits of every token some stack of `stacks` accepts (no precomputation used).
  void walk_all(const std::vector<Stack>& stacks, uint64_t* mask);

 private:
  void start(const Stack* stacks, size_t n);
  // Level d (the stacks after the d-th byte of the current path) from level d - 1; false when
  // no stack survives or a bound was hit.
  bool step_level(uint32_t d, uint8_t byte);
  void walk_subtree(uint32_t node, uint64_t* mask);

  const Pda& pda_;
  const GrammarVocab::Impl& vocab_;
  Stepper stepper_;
  std::vector<Stack> buf_;       // the levels of the current path, one after another
  std::vector<uint32_t> begin_;  // level d is buf_[begin_[d] .. begin_[d + 1])
  std::vector<uint8_t> ctx_;     // precompute: an ancestor's byte may have left the frame
  std::vector<uint32_t> path_, chain_;
  bool bound_hit_ = false;  // the last step_level stopped at the stack or work bound
};

}  // namespace nagare::grammar
