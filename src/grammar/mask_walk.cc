#include "grammar/mask_walk.h"

#include <algorithm>
#include <bit>

namespace nagare::grammar {

void StateMasks::or_into(uint64_t* mask) const {
  for (int32_t id : accepted_ids) mask[static_cast<uint32_t>(id) >> 6] |= uint64_t(1) << (id & 63);
  for (size_t w = 0; w < accepted_bits.size(); ++w) mask[w] |= accepted_bits[w];
}

size_t StateMasks::memory_bytes() const {
  return sizeof(*this) + accepted_ids.capacity() * 4 + accepted_bits.capacity() * 8 + uncertain.capacity() * 4;
}

MaskWalker::MaskWalker(const Pda& pda, const GrammarVocab::Impl& vocab, StackArena& arena,
                       const GrammarLimits& limits, uint32_t max_depth)
    : pda_(pda), vocab_(vocab), stepper_(pda, arena, limits, max_depth) {
  begin_.assign(vocab.max_depth + 2, 0);
  ctx_.assign(vocab.max_depth + 1, 0);
  path_.assign(vocab.max_depth + 1, 0);
  buf_.reserve(1024);
}

void MaskWalker::start(const Stack* stacks, size_t n) {
  buf_.assign(stacks, stacks + n);
  begin_[0] = 0;
  begin_[1] = static_cast<uint32_t>(n);
}

bool MaskWalker::step_level(uint32_t d, uint8_t byte) {
  bound_hit_ = false;
  const uint32_t from = begin_[d - 1], to = begin_[d];
  buf_.resize(to);
  if (to - from == 1 && pda_.has(buf_[from].state, Pda::kSimple)) {
    // The common case, inside a literal or a string: one stack, a plain DFA move.
    const uint32_t next = pda_.next(buf_[from].state, byte);
    if (next != Pda::kDead) buf_.push_back({next, buf_[from].below});
  } else {
    for (uint32_t i = from; i < to; ++i) {
      const Stack s = buf_[i];  // a copy: stepping appends to buf_
      if (!stepper_.step(s, byte, buf_, to)) {
        bound_hit_ = true;
        buf_.resize(to);
        begin_[d + 1] = to;
        return false;
      }
    }
  }
  begin_[d + 1] = static_cast<uint32_t>(buf_.size());
  return begin_[d + 1] > to;
}

StateMasks MaskWalker::precompute(uint32_t state) {
  const GrammarVocab::Impl& v = vocab_;
  std::vector<uint64_t> accepted(v.words + 1, 0);  // + the spare word node_token's `size` marks
  StateMasks out;
  const Stack s{state, kLocal};
  start(&s, 1);
  ctx_[0] = 0;
  const ByteSet& follow = pda_.rule_follow[pda_.rule_of[state]];
  const uint32_t n = v.num_nodes();
  const uint8_t* node_byte = v.byte.data();
  const uint16_t* node_depth = v.depth.data();
  const uint32_t* subtree_end = v.subtree_end.data();
  const uint32_t* token_begin = v.token_begin.data();
  const int32_t* tokens = v.tokens.data();
  const int32_t* node_token = v.node_token.data();
  const uint32_t* trans = pda_.trans.data();
  const uint8_t* flags = pda_.flags.data();
  const uint32_t classes = pda_.num_classes;
  uint64_t* acc = accepted.data();
  uint32_t* begin = begin_.data();
  uint8_t* ctx = ctx_.data();
  for (uint32_t i = 1; i < n;) {
    const uint32_t d = node_depth[i];
    const uint8_t byte = node_byte[i];
    const uint32_t from = begin[d - 1], to = begin[d];
    if (to - from == 1 && (flags[buf_[from].state] & Pda::kSimple)) {
      // The common case, inside a literal or a string: one stack, a plain DFA move, and no way
      // out of the frame on this byte.
      const Stack top = buf_[from];
      const uint32_t next = trans[top.state * classes + pda_.byte_class[byte]];
      if (next == Pda::kDead) {
        if (ctx[d - 1]) out.uncertain.push_back(i | StateMasks::kWholeSubtree);
        i = subtree_end[i];
        continue;
      }
      if (buf_.size() <= to) buf_.resize(to + 1);
      buf_[to] = {next, top.below};
      begin[d + 1] = to + 1;
      ctx[d] = ctx[d - 1];
    } else {
      stepper_.exited = false;
      const bool alive = step_level(d, byte);
      const bool c = ctx[d - 1] || (stepper_.exited && follow[byte]);
      if (!alive) {
        // Dead inside the frame; but if a path left the frame on the way, the stack below may
        // still read the rest (and a bound hit here is left to the real stack too).
        if (c || bound_hit_) out.uncertain.push_back(i | StateMasks::kWholeSubtree);
        i = subtree_end[i];
        continue;
      }
      ctx[d] = c;
    }
    const auto t = static_cast<uint32_t>(node_token[i]);
    acc[t >> 6] |= uint64_t(1) << (t & 63);
    if (token_begin[i + 1] - token_begin[i] > 1) [[unlikely]]  // tokens with the same bytes
      for (uint32_t k = token_begin[i] + 1; k < token_begin[i + 1]; ++k)
        acc[static_cast<uint32_t>(tokens[k]) >> 6] |= uint64_t(1) << (tokens[k] & 63);
    ++i;
  }
  accepted.resize(v.words);
  if (v.size % 64) accepted.back() &= (uint64_t(1) << (v.size % 64)) - 1;
  size_t count = 0;
  for (uint64_t w : accepted) count += static_cast<size_t>(std::popcount(w));
  if (count * 32 < static_cast<size_t>(v.size)) {
    out.accepted_ids.reserve(count);
    for (size_t w = 0; w < accepted.size(); ++w)
      for (uint64_t bits = accepted[w]; bits; bits &= bits - 1)
        out.accepted_ids.push_back(static_cast<int32_t>(w * 64 + static_cast<size_t>(std::countr_zero(bits))));
  } else {
    out.accepted_bits = std::move(accepted);
  }
  out.uncertain.shrink_to_fit();
  return out;
}

void MaskWalker::walk_subtree(uint32_t node, uint64_t* mask) {
  const GrammarVocab::Impl& v = vocab_;
  const uint32_t end = v.subtree_end[node];
  const uint8_t* node_byte = v.byte.data();
  const uint16_t* node_depth = v.depth.data();
  const uint32_t* trans = pda_.trans.data();
  const uint8_t* flags = pda_.flags.data();
  const uint32_t classes = pda_.num_classes;
  uint32_t* begin = begin_.data();
  for (uint32_t i = node + 1; i < end;) {
    const uint32_t d = node_depth[i];
    const uint32_t from = begin[d - 1], to = begin[d];
    if (to - from == 1 && (flags[buf_[from].state] & Pda::kSimple)) {
      const Stack top = buf_[from];
      const uint32_t next = trans[top.state * classes + pda_.byte_class[node_byte[i]]];
      if (next == Pda::kDead) {
        i = v.subtree_end[i];
        continue;
      }
      if (buf_.size() <= to) buf_.resize(to + 1);
      buf_[to] = {next, top.below};
      begin[d + 1] = to + 1;
    } else if (!step_level(d, node_byte[i])) {
      i = v.subtree_end[i];
      continue;
    }
    v.set_tokens_at(i, mask);
    ++i;
  }
}

void MaskWalker::check_uncertain(Stack s, const std::vector<uint32_t>& uncertain, uint64_t* mask) {
  const GrammarVocab::Impl& v = vocab_;
  start(&s, 1);
  path_[0] = 0;
  uint32_t cur = 0;  // the path holds nodes path_[0..cur], their levels computed
  constexpr uint32_t kNode = ~StateMasks::kWholeSubtree;
  for (size_t k = 0; k < uncertain.size();) {
    const uint32_t u = uncertain[k] & kNode;
    while (!(path_[cur] <= u && u < v.subtree_end[path_[cur]])) --cur;
    chain_.clear();
    for (uint32_t x = u; x != path_[cur]; x = v.parent[x]) chain_.push_back(x);
    bool dead = false;
    for (size_t j = chain_.size(); j-- > 0;) {
      const uint32_t x = chain_[j];
      if (!step_level(cur + 1, v.byte[x])) {
        // Nothing under x survives: skip the entries inside its subtree.
        const uint32_t end = v.subtree_end[x];
        k = static_cast<size_t>(std::partition_point(uncertain.begin() + static_cast<ptrdiff_t>(k), uncertain.end(),
                                                     [&](uint32_t e) { return (e & kNode) < end; }) -
                                uncertain.begin());
        dead = true;
        break;
      }
      path_[++cur] = x;
    }
    if (dead) continue;
    v.set_tokens_at(u, mask);
    if (uncertain[k] & StateMasks::kWholeSubtree) walk_subtree(u, mask);
    ++k;
  }
}

void MaskWalker::walk_all(const std::vector<Stack>& stacks, uint64_t* mask) {
  start(stacks.data(), stacks.size());
  walk_subtree(0, mask);
}

}  // namespace nagare::grammar
