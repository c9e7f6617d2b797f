// Parse stacks as shared, hash-consed nodes, and the byte step of the pushdown automaton.
// A stack is its top DFA state plus the node of the frames below; equal frames are one node, so
// stacks compare, hash and copy in O(1) and a byte that only moves the top allocates nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/pda.h"

namespace nagare::grammar {

inline constexpr uint32_t kBottom = UINT32_MAX;     // nothing below: the root rule's frame
inline constexpr uint32_t kLocal = UINT32_MAX - 1;  // unknown frames below (precomputing masks)

struct Stack {
  uint32_t state, below;  // below: a node id, kBottom or kLocal
  bool operator==(const Stack&) const = default;
  bool operator<(const Stack& o) const { return state != o.state ? state < o.state : below < o.below; }
};

class StackArena {
 public:
  struct Node {
    uint32_t state, below;  // the return state of a call in progress, and the frames under it
    uint32_t depth;         // frames from the bottom, this one included
    uint8_t completable;    // every frame from here down can end without reading a byte
    uint8_t extendable;     // a byte can be read in this frame or, after it ends, below
  };

  explicit StackArena(const Pda& pda) : pda_(&pda) {}

  uint32_t intern(uint32_t state, uint32_t below);
  const Node& node(uint32_t id) const { return nodes_[id]; }
  uint32_t depth(uint32_t below) const { return below >= kLocal ? 0 : nodes_[below].depth; }
  size_t size() const { return nodes_.size(); }
  void clear() {
    nodes_.clear();
    table_.clear();
  }

  // The whole stack can end here (for kLocal: its own frames can).
  bool completable(Stack s) const {
    return pda_->has(s.state, Pda::kCanFinish) && (s.below >= kLocal || nodes_[s.below].completable);
  }
  bool extendable(Stack s) const {
    return pda_->has(s.state, Pda::kCanExtend) ||
           (pda_->has(s.state, Pda::kCanFinish) && s.below < kLocal && nodes_[s.below].extendable);
  }
  // Frames of the stack, top first, as DFA states: a canonical form for cache keys.
  void serialize(Stack s, std::vector<uint32_t>& out) const;

  // Keeps only the nodes under `stacks` (renumbered in place); the rest was garbage of walks.
  void compact(std::vector<Stack>& stacks);

 private:
  void rehash(size_t capacity);

  const Pda* pda_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> table_;  // open addressing: node id + 1, 0 empty
};

// Reads one byte from a stack, following calls, returns and every alternative.
class Stepper {
 public:
  Stepper(const Pda& pda, StackArena& arena, const GrammarLimits& limits, uint32_t max_depth)
      : pda_(pda), arena_(arena), max_stacks_(limits.max_stacks), max_depth_(max_depth) {}

  // Appends to out[begin..] the stacks after `byte`, deduplicated there. False when a bound was
  // hit (too many stacks, or too much work for one byte); out is then incomplete.
  bool step(Stack s, uint8_t byte, std::vector<Stack>& out, size_t begin);

  // Set by step when a path ended the kLocal frame before reading the byte.
  bool exited = false;

 private:
  void go(uint32_t state, uint32_t below);
  void add(uint32_t state, uint32_t below);

  const Pda& pda_;
  StackArena& arena_;
  size_t max_stacks_;
  uint32_t max_depth_;
  std::vector<Stack>* out_ = nullptr;
  size_t begin_ = 0;
  uint8_t byte_ = 0;
  uint32_t work_ = 0;
  bool overflow_ = false;
};

}  // namespace nagare::grammar
