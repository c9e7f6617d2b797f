// Paged KV block bookkeeping with automatic prefix caching. A full block is named by the hash
// of (its parent block's hash, its tokens); a new sequence reuses every leading block already
// cached. Blocks are reference-counted; unreferenced cached blocks stay reusable until they
// are evicted, least recently used first, when fresh blocks run out.
//
// Where the KV cache keeps sliding windows apart (KvCache::with_separate_windows), a sequence
// has two tables: its full-attention layers' blocks and its sliding-window layers' blocks, of
// which it holds only those its next tokens can still attend to. Both kinds of block take their
// pages from one pool, so what a long sequence's window frees serves any sequence.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace nagare {

class KvCache;

// One sequence's blocks. `table` covers its positions for every layer, or, with separate
// windows, for the full-attention layers; `window` (separate windows only) covers the same
// positions for the sliding-window layers, with -1 for the blocks before `window_first`, which
// the sequence no longer holds.
struct BlockTables {
  std::vector<int32_t> table, window;
  int32_t window_first = 0;
  // Blocks' worth of positions covered.
  int32_t covered() const { return int32_t(std::max(table.size(), window.size())); }
  bool empty() const { return table.empty() && window.empty(); }
};

class BlockManager {
 public:
  // One table for every layer: n_blocks blocks.
  BlockManager(int32_t n_blocks, int32_t block_size, bool prefix_cache);
  // Separate windows: the two kinds of block of `kv` (made by KvCache::with_separate_windows),
  // whose pages this manager hands out.
  BlockManager(KvCache& kv, bool prefix_cache);

  int32_t block_size() const { return block_size_; }
  // Counts in blocks of every layer (separate windows: pages / layers, rounded down).
  int32_t n_blocks() const { return to_blocks(n_pages_); }
  int32_t blocks_in_use() const;      // referenced by some sequence
  int32_t blocks_cached() const;      // unreferenced, kept for reuse
  int32_t blocks_available() const;   // free or evictable
  int64_t pages_in_use() const;       // pages of referenced blocks
  int64_t pages_available() const;    // free, or held by evictable blocks

  // Fills `t` (which must be empty) with the cached blocks holding the longest prefix of
  // `tokens` made of whole blocks, at most max_tokens long, taking a reference on each; with
  // separate windows, a prefix counts only where the sliding-window blocks its next token
  // attends to are cached too. Returns the number of tokens the prefix has.
  int32_t match_prefix(std::span<const int32_t> tokens, int32_t max_tokens, BlockTables& t);

  // Adds blocks to `t` until it covers n_tokens; false (t unchanged) if there are not enough
  // free or evictable pages.
  bool grow(BlockTables& t, int32_t n_tokens);

  // Separate windows: drops the sliding-window blocks that no token from position `next` on
  // attends to (a cached one stays reusable as a prefix until evicted). Nothing otherwise.
  void drop_outside_window(BlockTables& t, int32_t next);

  // Registers the full blocks of a sequence whose KV is computed for `tokens[0, n_computed)`.
  // `n_registered` counts the leading blocks already registered (updated here); `hash` is the
  // running chain hash (updated here).
  void register_full_blocks(std::span<const int32_t> tokens, int32_t n_computed, const BlockTables& t,
                            int32_t& n_registered, uint64_t& hash);

  // Drops the sequence's references; clears `t`.
  void release(BlockTables& t);

  // The same for one table (one-table managers only).
  int32_t match_prefix(std::span<const int32_t> tokens, int32_t max_tokens, std::vector<int32_t>& table);
  bool grow(std::vector<int32_t>& table, int32_t n_tokens);
  void register_full_blocks(std::span<const int32_t> tokens, int32_t n_computed, const std::vector<int32_t>& table,
                            int32_t& n_registered, uint64_t& hash);
  void release(std::vector<int32_t>& table);

  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens);

 private:
  struct Block {
    int32_t refs = 0;
    bool registered = false;   // in its kind's cache
    uint64_t hash = 0;
    uint64_t parent = 0;
    uint64_t released_at = 0;  // when it became evictable (ticks)
    int32_t prev = -1, next = -1;  // LRU list links while evictable
  };
  // One kind of block: all layers (one table), or with separate windows the full-attention
  // layers (0) or the sliding-window layers (1).
  struct Kind {
    int32_t layers = 0;  // pages per block; 0: the model has no layer of this kind
    int32_t first = 0, n = 0;  // its block ids
    std::vector<int32_t> free_ids;
    std::unordered_map<uint64_t, int32_t> cache;
    int32_t lru_head = -1, lru_tail = -1, n_evictable = 0, in_use = 0;
  };
  int kind_of(int32_t b) const { return b >= kinds_[1].first && kinds_[1].n > 0 ? 1 : 0; }
  int32_t to_blocks(int64_t pages) const { return int32_t(pages / layers_per_block_); }
  int32_t take_block(int k);  // a block of kind k, evicting least recently used cached ones as needed
  void evict(int32_t b);       // a cached block: out of its cache, then freed
  void free_block(int32_t b);  // its id and pages back to the free lists
  void unref(int32_t b);
  void lru_push_back(int32_t b);
  void lru_remove(int32_t b);
  int32_t lookup(int k, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const;
  void acquire(int32_t b);
  void register_block(int32_t b, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens);
  void register_tables(std::span<const int32_t> tokens, int32_t n_computed, std::span<const int32_t> table,
                       std::span<const int32_t> window, int32_t& n_registered, uint64_t& hash);

  int32_t block_size_;
  bool prefix_cache_;
  KvCache* kv_ = nullptr;  // separate windows: whose pages are handed out
  int32_t window_ = 0;
  int32_t layers_per_block_ = 1;  // pages per block of every layer
  int64_t n_pages_;
  Kind kinds_[2];
  std::vector<Block> blocks_;
  std::vector<int32_t> block_tokens_;  // tokens of each registered block, to rule out hash collisions
  std::vector<int32_t> free_pages_;    // separate windows only; one table counts them in free_page_count_
  int64_t free_page_count_ = 0;
  uint64_t tick_ = 0;
};

}  // namespace nagare
