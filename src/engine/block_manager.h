// Paged KV block bookkeeping with automatic prefix caching. A full block is named by the hash
// of (its parent block's hash, its tokens); a new sequence reuses every leading block already
// cached. Blocks are reference-counted; unreferenced cached blocks stay reusable until they
// are evicted, least recently used first, when fresh blocks run out.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace nagare {

class BlockManager {
 public:
  BlockManager(int32_t n_blocks, int32_t block_size, bool prefix_cache);

  int32_t block_size() const { return block_size_; }
  int32_t n_blocks() const { return n_blocks_; }
  int32_t blocks_in_use() const { return in_use_; }       // referenced by some sequence
  int32_t blocks_cached() const { return n_evictable_; }  // unreferenced, kept for reuse
  int32_t blocks_available() const { return int32_t(free_.size()) + n_evictable_; }

  // Appends to `table` (which must be empty) the cached blocks holding the longest prefix of
  // `tokens` made of whole blocks, at most max_tokens long, taking a reference on each.
  // Returns the number of tokens they cover.
  int32_t match_prefix(std::span<const int32_t> tokens, int32_t max_tokens, std::vector<int32_t>& table);

  // Appends blocks to `table` until it covers n_tokens; false (table unchanged) if there are
  // not enough free or evictable blocks.
  bool grow(std::vector<int32_t>& table, int32_t n_tokens);

  // Registers the full blocks of a sequence whose KV is computed for `tokens[0, n_computed)`.
  // `n_registered` counts the leading blocks already registered (updated here); `hash` is the
  // running chain hash (updated here).
  void register_full_blocks(std::span<const int32_t> tokens, int32_t n_computed, const std::vector<int32_t>& table,
                            int32_t& n_registered, uint64_t& hash);

  // Drops the sequence's references; clears `table`.
  void release(std::vector<int32_t>& table);

  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens);

 private:
  struct Block {
    int32_t refs = 0;
    bool registered = false;   // in cache_
    uint64_t hash = 0;
    uint64_t parent = 0;
    int32_t prev = -1, next = -1;  // LRU list links while evictable
  };
  int32_t take_block();  // a free block, else the least recently used evictable one
  void lru_push_back(int32_t b);
  void lru_remove(int32_t b);
  bool same_tokens(int32_t b, std::span<const int32_t> tokens) const;

  int32_t n_blocks_, block_size_;
  bool prefix_cache_;
  std::vector<Block> blocks_;
  std::vector<int32_t> block_tokens_;  // tokens of each registered block, to rule out hash collisions
  std::vector<int32_t> free_;
  std::unordered_map<uint64_t, int32_t> cache_;
  int32_t lru_head_ = -1, lru_tail_ = -1, n_evictable_ = 0, in_use_ = 0;
};

}  // namespace nagare
