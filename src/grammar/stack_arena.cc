#include "grammar/stack_arena.h"

#include <algorithm>

namespace nagare::grammar {
namespace {

// One byte may expand this many call/return moves; past it the step counts as a bound hit.
constexpr uint32_t kMaxWorkPerByte = 1 << 16;

size_t hash_pair(uint32_t a, uint32_t b) {
  uint64_t h = (uint64_t(a) << 32 | b) * 0x9E3779B97F4A7C15ull;
  return static_cast<size_t>(h ^ (h >> 29));
}

}  // namespace

uint32_t StackArena::intern(uint32_t state, uint32_t below) {
  if ((nodes_.size() + 1) * 2 > table_.size()) rehash(std::max<size_t>(64, table_.size() * 2));
  const size_t mask = table_.size() - 1;
  for (size_t i = hash_pair(state, below) & mask;; i = (i + 1) & mask) {
    const uint32_t slot = table_[i];
    if (slot == 0) {
      const auto id = static_cast<uint32_t>(nodes_.size());
      Node n{state, below, depth(below) + 1, 0, 0};
      const bool base = below >= kLocal;
      n.completable = pda_->has(state, Pda::kCanFinish) && (base || nodes_[below].completable);
      n.extendable = pda_->has(state, Pda::kCanExtend) ||
                     (pda_->has(state, Pda::kCanFinish) && !base && nodes_[below].extendable);
      nodes_.push_back(n);
      table_[i] = id + 1;
      return id;
    }
    const Node& n = nodes_[slot - 1];
    if (n.state == state && n.below == below) return slot - 1;
  }
}

void StackArena::rehash(size_t capacity) {
  table_.assign(capacity, 0);
  const size_t mask = capacity - 1;
  for (size_t id = 0; id < nodes_.size(); ++id) {
    size_t i = hash_pair(nodes_[id].state, nodes_[id].below) & mask;
    while (table_[i]) i = (i + 1) & mask;
    table_[i] = static_cast<uint32_t>(id + 1);
  }
}

void StackArena::serialize(Stack s, std::vector<uint32_t>& out) const {
  out.push_back(s.state);
  for (uint32_t b = s.below; b < kLocal; b = nodes_[b].below) out.push_back(nodes_[b].state);
  out.push_back(s.below == kLocal ? kLocal : kBottom);
}

void StackArena::compact(std::vector<Stack>& stacks) {
  // Nodes are created below-first, so ids increase upward and one pass in id order rebuilds.
  std::vector<uint32_t> keep;
  std::vector<uint8_t> live(nodes_.size(), 0);
  for (const Stack& s : stacks)
    for (uint32_t b = s.below; b < kLocal && !live[b]; b = nodes_[b].below) live[b] = 1;
  std::vector<uint32_t> remap(nodes_.size(), kBottom);
  std::vector<Node> old;
  old.swap(nodes_);
  table_.clear();
  for (uint32_t id = 0; id < old.size(); ++id) {
    if (!live[id]) continue;
    const Node& n = old[id];
    remap[id] = intern(n.state, n.below < kLocal ? remap[n.below] : n.below);
  }
  for (Stack& s : stacks)
    if (s.below < kLocal) s.below = remap[s.below];
}

bool Stepper::step(Stack s, uint8_t byte, std::vector<Stack>& out, size_t begin) {
  out_ = &out;
  begin_ = begin;
  byte_ = byte;
  work_ = 0;
  overflow_ = false;
  go(s.state, s.below);
  return !overflow_;
}

void Stepper::add(uint32_t state, uint32_t below) {
  std::vector<Stack>& out = *out_;
  for (size_t i = begin_; i < out.size(); ++i)
    if (out[i].state == state && out[i].below == below) return;
  if (out.size() - begin_ >= max_stacks_) {
    overflow_ = true;
    return;
  }
  out.push_back({state, below});
}

void Stepper::go(uint32_t state, uint32_t below) {
  if (++work_ > kMaxWorkPerByte) {
    overflow_ = true;
    return;
  }
  const uint32_t next = pda_.next(state, byte_);
  if (next != Pda::kDead) add(next, below);
  if (pda_.has(state, Pda::kSimple)) return;
  for (uint32_t i = pda_.call_begin[state]; i < pda_.call_begin[state + 1] && !overflow_; ++i) {
    const Pda::Call c = pda_.calls[i];
    const bool nullable = pda_.rule_nullable[c.rule];
    // Entering the rule covers its empty match too (its start can end, and returns to c.ret).
    if (pda_.rule_first[c.rule][byte_] && arena_.depth(below) < max_depth_) {
      go(pda_.rule_start[c.rule], arena_.intern(c.ret, below));
    } else if (nullable) {
      go(c.ret, below);
    }
  }
  if (pda_.has(state, Pda::kFinal)) {
    if (below == kLocal) {
      exited = true;
    } else if (below != kBottom) {
      const StackArena::Node n = arena_.node(below);  // a copy: go() may grow the arena
      go(n.state, n.below);
    }
  }
}

}  // namespace nagare::grammar
