// CompiledGrammar's insides: the per-state precomputed masks (computed on first use) and an LRU
// cache of whole masks keyed by the matcher's canonical stack set, both shared by all matchers.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/grammar_impl.h"
#include "grammar/mask_walk.h"
#include "grammar/pda.h"
#include "grammar/vocab_trie.h"

namespace nagare {

struct CompiledGrammar::Impl {
  // Memory bounds: past them the least recently used masks go (the state masks all at once; they
  // come back on demand).
  // The engine keeps 16 compiled grammars at most (GrammarCompiler): 384 MiB at the very worst.
  static constexpr size_t kMaskCacheBytes = size_t(8) << 20;
  static constexpr size_t kStateMaskBytes = size_t(16) << 20;

  Impl(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const GrammarVocab> vocab, const GrammarLimits& limits);

  // The precomputed masks of one DFA state. Thread-safe.
  std::shared_ptr<const grammar::StateMasks> state_masks(uint32_t state);
  // A whole mask by stack-set key: true and `mask` filled when cached. Thread-safe.
  bool lookup(const std::vector<uint32_t>& key, uint64_t* mask);
  void insert(const std::vector<uint32_t>& key, const uint64_t* mask);

  struct Stats {
    size_t lookups = 0, hits = 0, states_computed = 0, state_bytes = 0, cached_masks = 0;
  };
  Stats stats();
  // Empties the whole-mask cache (benchmarks: to time the per-state path alone).
  void clear_mask_cache();

  const std::shared_ptr<const Grammar> grammar;
  const std::shared_ptr<const GrammarVocab> vocab_holder;
  const grammar::Pda& pda;
  const GrammarVocab::Impl& vocab;
  const GrammarLimits limits;

 private:
  struct KeyHash {
    size_t operator()(const std::vector<uint32_t>& v) const {
      uint64_t h = 1469598103934665603ull;
      for (uint32_t x : v) h = (h ^ x) * 1099511628211ull;
      return static_cast<size_t>(h ^ (h >> 31));
    }
  };
  struct Entry {
    const std::vector<uint32_t>* key;
    std::vector<uint64_t> mask;
  };

  std::mutex mutex_;
  std::vector<std::shared_ptr<const grammar::StateMasks>> states_;
  size_t state_bytes_ = 0;
  grammar::StackArena scratch_;  // precomputation's stacks, on kLocal
  grammar::MaskWalker walker_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::vector<uint32_t>, std::list<Entry>::iterator, KeyHash> index_;
  Stats stats_;
};

}  // namespace nagare
