#include "grammar/compiled_grammar.h"

#include <cstring>

namespace nagare {

CompiledGrammar::Impl::Impl(std::shared_ptr<const Grammar> g, std::shared_ptr<const GrammarVocab> v,
                            const GrammarLimits& l)
    : grammar(std::move(g)),
      vocab_holder(std::move(v)),
      pda(grammar->impl().pda),
      vocab(vocab_holder->impl()),
      limits(l),
      scratch_(pda),
      // Precomputed frames may push half the depth bound; matchers deeper than the other half
      // walk without them (GrammarMatcher::fill_mask), so the two never add past the bound.
      walker_(pda, vocab, scratch_, limits, static_cast<uint32_t>(std::max(1, limits.max_stack_depth / 2))) {
  states_.resize(pda.num_states());
}

std::shared_ptr<const grammar::StateMasks> CompiledGrammar::Impl::state_masks(uint32_t state) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (states_[state]) return states_[state];
  if (scratch_.size() > (1u << 16)) scratch_.clear();
  auto masks = std::make_shared<const grammar::StateMasks>(walker_.precompute(state));
  if (state_bytes_ + masks->memory_bytes() > kStateMaskBytes) {
    for (auto& s : states_) s.reset();
    state_bytes_ = 0;
  }
  state_bytes_ += masks->memory_bytes();
  ++stats_.states_computed;
  states_[state] = masks;
  return masks;
}

bool CompiledGrammar::Impl::lookup(const std::vector<uint32_t>& key, uint64_t* mask) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.lookups;
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  std::memcpy(mask, it->second->mask.data(), vocab.words * sizeof(uint64_t));
  return true;
}

void CompiledGrammar::Impl::insert(const std::vector<uint32_t>& key, const uint64_t* mask) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (index_.count(key)) return;
  const size_t entry_bytes = vocab.words * sizeof(uint64_t) + key.size() * 4 + 64;
  const size_t capacity = std::max<size_t>(1, kMaskCacheBytes / entry_bytes);
  while (lru_.size() >= capacity) {
    index_.erase(*lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{nullptr, std::vector<uint64_t>(mask, mask + vocab.words)});
  auto [it, inserted] = index_.emplace(key, lru_.begin());
  lru_.front().key = &it->first;
}

void CompiledGrammar::Impl::clear_mask_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  index_.clear();
  lru_.clear();
}

CompiledGrammar::Impl::Stats CompiledGrammar::Impl::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats s = stats_;
  s.state_bytes = state_bytes_;
  s.cached_masks = lru_.size();
  return s;
}

CompiledGrammar::CompiledGrammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const GrammarVocab> vocab,
                                 const GrammarLimits& limits) {
  if (!grammar || !vocab) throw GrammarError("CompiledGrammar needs a grammar and a vocabulary");
  impl_ = std::make_unique<Impl>(std::move(grammar), std::move(vocab), limits);
}

CompiledGrammar::~CompiledGrammar() = default;

}  // namespace nagare
