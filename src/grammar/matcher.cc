// GrammarMatcher: one sequence's set of parse stacks, advanced by the bytes of each token, and
// its masks from the compiled grammar's caches.
#include <algorithm>
#include <cstring>

#include "grammar/compiled_grammar.h"
#include "grammar/grammar.h"
#include "grammar/mask_walk.h"
#include "grammar/stack_arena.h"

namespace nagare {

using grammar::kBottom;
using grammar::Stack;

namespace {
// Garbage nodes from walks are collected past this many arena nodes.
constexpr size_t kCompactAbove = 1 << 15;
}  // namespace

struct GrammarMatcher::State {
  explicit State(std::shared_ptr<const CompiledGrammar> c)
      : compiled(std::move(c)),
        impl(compiled->impl()),
        arena(impl.pda),
        stepper(impl.pda, arena, impl.limits, static_cast<uint32_t>(std::max(1, impl.limits.max_stack_depth))),
        walker(impl.pda, impl.vocab, arena, impl.limits, static_cast<uint32_t>(std::max(1, impl.limits.max_stack_depth))) {
    stacks.push_back({impl.pda.rule_start[0], kBottom});
  }
  State(const State& o) : State(o.compiled) {
    arena = o.arena;
    stacks = o.stacks;
    overflowed = o.overflowed;
    ended = o.ended;
    forced_end = o.forced_end;
  }

  bool complete() const {
    if (ended) return true;
    if (overflowed) return false;
    for (const Stack& s : stacks)
      if (arena.completable(s)) return true;
    return false;
  }

  void make_key() {
    key.clear();
    if (stacks.size() == 1) {
      arena.serialize(stacks[0], key);
      return;
    }
    // Node ids are this matcher's own: order the stacks by their contents.
    std::vector<std::vector<uint32_t>> parts(stacks.size());
    for (size_t i = 0; i < stacks.size(); ++i) arena.serialize(stacks[i], parts[i]);
    std::sort(parts.begin(), parts.end());
    for (const auto& p : parts) key.insert(key.end(), p.begin(), p.end());
  }

  std::shared_ptr<const CompiledGrammar> compiled;
  CompiledGrammar::Impl& impl;
  grammar::StackArena arena;
  grammar::Stepper stepper;
  grammar::MaskWalker walker;
  std::vector<Stack> stacks, scratch_a, scratch_b;
  std::vector<uint32_t> key;
  bool overflowed = false;  // a bound was hit: only the end ids remain
  bool ended = false;       // an end id was accepted
  bool forced_end = false;  // the last mask held only the end ids though not complete
};

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar) {
  if (!grammar) throw GrammarError("GrammarMatcher needs a compiled grammar");
  state_ = std::make_unique<State>(std::move(grammar));
}

GrammarMatcher::~GrammarMatcher() = default;
GrammarMatcher::GrammarMatcher(GrammarMatcher&&) noexcept = default;
GrammarMatcher& GrammarMatcher::operator=(GrammarMatcher&&) noexcept = default;
GrammarMatcher::GrammarMatcher(const GrammarMatcher& other) : state_(std::make_unique<State>(*other.state_)) {}
GrammarMatcher& GrammarMatcher::operator=(const GrammarMatcher& other) {
  if (this != &other) state_ = std::make_unique<State>(*other.state_);
  return *this;
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  State& st = *state_;
  if (st.ended || st.overflowed) return false;
  std::vector<Stack>* cur = &st.stacks;
  std::vector<Stack>* next = &st.scratch_a;
  bool overflow = false;
  for (char c : bytes) {
    next->clear();
    for (const Stack& s : *cur) {
      if (!st.stepper.step(s, static_cast<uint8_t>(c), *next, 0)) {
        overflow = true;
        break;
      }
    }
    if (overflow) break;
    if (next->empty()) return false;
    std::sort(next->begin(), next->end());
    cur = next;
    next = next == &st.scratch_a ? &st.scratch_b : &st.scratch_a;
  }
  if (overflow) {
    // Too many parses, or too much work for one byte: the output so far stands, and the
    // sequence may only end (fill_mask gives the end ids).
    st.overflowed = true;
    st.stacks.clear();
    return true;
  }
  if (cur != &st.stacks) st.stacks.swap(*cur);
  st.forced_end = false;
  if (st.arena.size() > kCompactAbove) st.arena.compact(st.stacks);
  return true;
}

bool GrammarMatcher::accept_token(int32_t token) {
  State& st = *state_;
  const GrammarVocab::Impl& vocab = st.impl.vocab;
  if (token < 0 || token >= vocab.size || st.ended) return false;
  if (vocab.end_bits[static_cast<size_t>(token) >> 6] >> (token & 63) & 1) {
    if (!st.complete() && !st.forced_end && !st.overflowed) return false;
    st.ended = true;
    return true;
  }
  const std::string& bytes = vocab.token_bytes[static_cast<size_t>(token)];
  if (bytes.empty()) return false;
  return accept_bytes(bytes);
}

void GrammarMatcher::fill_mask(uint64_t* mask) {
  State& st = *state_;
  const GrammarVocab::Impl& vocab = st.impl.vocab;
  const size_t words = vocab.words;
  if (st.ended || st.overflowed) {
    std::memcpy(mask, vocab.end_bits.data(), words * sizeof(uint64_t));
    st.forced_end = !st.ended;
    return;
  }
  st.make_key();
  if (!st.impl.lookup(st.key, mask)) {
    std::memset(mask, 0, words * sizeof(uint64_t));
    const auto half = static_cast<uint32_t>(std::max(1, st.impl.limits.max_stack_depth / 2));
    bool deep = false;
    for (const Stack& s : st.stacks) deep = deep || st.arena.depth(s.below) >= half;
    if (deep) {
      st.walker.walk_all(st.stacks, mask);
    } else {
      for (const Stack& s : st.stacks) {
        const auto masks = st.impl.state_masks(s.state);
        masks->or_into(mask);
        if (!masks->uncertain.empty()) st.walker.check_uncertain(s, masks->uncertain, mask);
      }
    }
    st.impl.insert(st.key, mask);
    if (st.arena.size() > kCompactAbove) st.arena.compact(st.stacks);
  }
  if (st.complete())
    for (size_t w = 0; w < words; ++w) mask[w] |= vocab.end_bits[w];
  bool any = false;
  for (size_t w = 0; w < words && !any; ++w) any = mask[w] != 0;
  st.forced_end = !any;
  if (!any) std::memcpy(mask, vocab.end_bits.data(), words * sizeof(uint64_t));
}

bool GrammarMatcher::is_complete() const { return state_->complete(); }

bool GrammarMatcher::is_finished() const {
  const State& st = *state_;
  if (st.ended) return true;
  if (!st.complete()) return false;
  for (const Stack& s : st.stacks)
    if (st.arena.extendable(s)) return false;
  return true;
}

}  // namespace nagare
