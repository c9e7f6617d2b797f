#include "engine/block_manager.h"

#include <algorithm>
#include <utility>

#include "model/kv_cache.h"
#include "util/error.h"

namespace nagare {

BlockManager::BlockManager(int32_t n_blocks, int32_t block_size, bool prefix_cache)
    : block_size_(block_size), prefix_cache_(prefix_cache), n_pages_(n_blocks) {
  if (n_blocks <= 0 || block_size <= 0) throw Error("the KV cache needs at least one block");
  // One page per block: a free block and a free page are the same thing.
  kinds_[0].layers = 1;
  kinds_[0].n = n_blocks;
  free_page_count_ = n_blocks;
  blocks_.resize(size_t(n_blocks));
  if (prefix_cache) block_tokens_.resize(size_t(n_blocks) * block_size);
  kinds_[0].free_ids.reserve(size_t(n_blocks));
  for (int32_t b = n_blocks - 1; b >= 0; --b) kinds_[0].free_ids.push_back(b);  // hand out low ids first
}

BlockManager::BlockManager(KvCache& kv, bool prefix_cache)
    : block_size_(kv.block_size()), prefix_cache_(prefix_cache), kv_(&kv), window_(kv.window()), n_pages_(kv.n_pages()) {
  if (!kv.separate_windows()) throw Error("internal: a two-table block manager needs a KV cache with separate windows");
  layers_per_block_ = kv.kind_layers(0) + kv.kind_layers(1);
  int32_t n_ids = 0;
  for (int k = 0; k < 2; ++k) {
    Kind& K = kinds_[k];
    K.layers = kv.kind_layers(k);
    K.first = kv.first_block(k);
    K.n = kv.n_kind_blocks(k);
    K.free_ids.reserve(size_t(K.n));
    for (int32_t b = K.first + K.n - 1; b >= K.first; --b) K.free_ids.push_back(b);
    n_ids = std::max(n_ids, K.first + K.n);
  }
  blocks_.resize(size_t(n_ids));
  if (prefix_cache) block_tokens_.resize(size_t(n_ids) * block_size_);
  free_page_count_ = n_pages_;
  free_pages_.reserve(size_t(n_pages_));
  for (int64_t p = n_pages_ - 1; p >= 0; --p) free_pages_.push_back(int32_t(p));
}

uint64_t BlockManager::chain_hash(uint64_t parent, std::span<const int32_t> tokens) {
  // 64-bit mix (splitmix64 finalizer) over the parent hash and each token.
  auto mix = [](uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
  };
  uint64_t h = mix(parent ^ 0x9e3779b97f4a7c15ULL);
  for (int32_t t : tokens) h = mix(h ^ (uint64_t(uint32_t(t)) + 0x9e3779b97f4a7c15ULL));
  return h == 0 ? 1 : h;  // 0 means "no parent"
}

int32_t BlockManager::blocks_in_use() const {
  return to_blocks(pages_in_use());
}

int64_t BlockManager::pages_in_use() const {
  return int64_t(kinds_[0].in_use) * kinds_[0].layers + int64_t(kinds_[1].in_use) * kinds_[1].layers;
}

int32_t BlockManager::blocks_cached() const {
  return to_blocks(int64_t(kinds_[0].n_evictable) * kinds_[0].layers + int64_t(kinds_[1].n_evictable) * kinds_[1].layers);
}

int64_t BlockManager::pages_available() const {
  return free_page_count_ + int64_t(kinds_[0].n_evictable) * kinds_[0].layers +
         int64_t(kinds_[1].n_evictable) * kinds_[1].layers;
}

int32_t BlockManager::blocks_available() const { return to_blocks(pages_available()); }

int32_t BlockManager::lookup(int k, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) const {
  const auto it = kinds_[k].cache.find(hash);
  if (it == kinds_[k].cache.end()) return -1;
  const int32_t b = it->second;
  if (blocks_[b].parent != parent ||
      !std::equal(tokens.begin(), tokens.end(), block_tokens_.begin() + int64_t(b) * block_size_))
    return -1;
  return b;
}

void BlockManager::acquire(int32_t b) {
  if (blocks_[b].refs == 0) {
    lru_remove(b);
    kinds_[kind_of(b)].in_use++;
  }
  blocks_[b].refs++;
}

int32_t BlockManager::match_prefix(std::span<const int32_t> tokens, int32_t max_tokens, BlockTables& t) {
  if (!prefix_cache_) return 0;
  const bool has_full = kinds_[0].layers > 0 && kinds_[0].n > 0, has_window = kinds_[1].n > 0;
  const int32_t limit = std::min<int32_t>(int32_t(tokens.size()), max_tokens);
  // Each whole block's cached blocks: the full-attention one (the prefix ends at the first
  // missing), the sliding-window one (-1 where missing).
  std::vector<int32_t> full_ids, window_ids;
  uint64_t parent = 0;
  for (int32_t i = 0; (i + 1) * block_size_ <= limit; ++i) {
    const auto chunk = tokens.subspan(size_t(i) * block_size_, size_t(block_size_));
    const uint64_t h = chain_hash(parent, chunk);
    const int32_t f = has_full ? lookup(0, h, parent, chunk) : -1;
    if (has_full && f < 0) break;
    full_ids.push_back(f);
    window_ids.push_back(has_window ? lookup(1, h, parent, chunk) : -1);
    parent = h;
  }
  // With separate windows, the longest prefix whose next position finds the sliding-window
  // blocks it attends to: those from the window's first block on.
  int32_t n = int32_t(full_ids.size()), lo = 0;
  if (has_window) {
    std::vector<int32_t> run(size_t(n) + 1, 0);  // cached window blocks ending just before block i
    for (int32_t i = 0; i < n; ++i) run[size_t(i) + 1] = window_ids[size_t(i)] >= 0 ? run[size_t(i)] + 1 : 0;
    for (; n > 0; --n) {
      lo = std::max(0, n * block_size_ - window_ + 1) / block_size_;
      if (n - lo <= run[size_t(n)]) break;
    }
    if (n == 0) lo = 0;
  }
  for (int32_t i = 0; i < n; ++i) {
    if (has_full) {
      acquire(full_ids[size_t(i)]);
      t.table.push_back(full_ids[size_t(i)]);
    }
    if (has_window) {
      if (i >= lo) acquire(window_ids[size_t(i)]);
      t.window.push_back(i >= lo ? window_ids[size_t(i)] : -1);
    }
  }
  t.window_first = lo;
  return n * block_size_;
}

void BlockManager::lru_push_back(int32_t b) {
  Kind& K = kinds_[kind_of(b)];
  Block& k = blocks_[b];
  k.prev = K.lru_tail;
  k.next = -1;
  k.released_at = ++tick_;
  if (K.lru_tail >= 0) blocks_[K.lru_tail].next = b;
  else K.lru_head = b;
  K.lru_tail = b;
  K.n_evictable++;
}

void BlockManager::lru_remove(int32_t b) {
  Kind& K = kinds_[kind_of(b)];
  Block& k = blocks_[b];
  if (k.prev >= 0) blocks_[k.prev].next = k.next;
  else K.lru_head = k.next;
  if (k.next >= 0) blocks_[k.next].prev = k.prev;
  else K.lru_tail = k.prev;
  k.prev = k.next = -1;
  K.n_evictable--;
}

void BlockManager::evict(int32_t b) {
  Kind& K = kinds_[kind_of(b)];
  lru_remove(b);
  K.cache.erase(blocks_[b].hash);
  blocks_[b].registered = false;
  free_block(b);
}

void BlockManager::free_block(int32_t b) {
  Kind& K = kinds_[kind_of(b)];
  K.free_ids.push_back(b);
  if (kv_) {
    int32_t* pages = kv_->block_pages(kind_of(b), b);
    for (int32_t i = K.layers - 1; i >= 0; --i) free_pages_.push_back(std::exchange(pages[i], -1));
  }
  free_page_count_ += K.layers;
}

int32_t BlockManager::take_block(int k) {
  Kind& K = kinds_[k];
  if (K.free_ids.empty()) evict(K.lru_head);  // every id of the kind is held: its oldest cached one goes
  // Pages from the least recently released cached blocks of either kind, as many as it takes.
  while (free_page_count_ < K.layers) {
    const int32_t a = kinds_[0].lru_head, w = kinds_[1].lru_head;
    evict(w < 0 || (a >= 0 && blocks_[a].released_at < blocks_[w].released_at) ? a : w);
  }
  const int32_t b = K.free_ids.back();
  K.free_ids.pop_back();
  if (kv_) {
    int32_t* pages = kv_->block_pages(k, b);
    for (int32_t i = 0; i < K.layers; ++i) {
      pages[i] = free_pages_.back();
      free_pages_.pop_back();
    }
  }
  free_page_count_ -= K.layers;
  Block& blk = blocks_[b];
  blk.refs = 1;
  blk.hash = blk.parent = 0;
  K.in_use++;
  return b;
}

void BlockManager::unref(int32_t b) {
  Block& k = blocks_[b];
  if (--k.refs > 0) return;
  Kind& K = kinds_[kind_of(b)];
  K.in_use--;
  if (k.registered) {
    lru_push_back(b);
    return;
  }
  free_block(b);  // not cached: straight back (a registered block goes back when evicted)
}

bool BlockManager::grow(BlockTables& t, int32_t n_tokens) {
  const int32_t blocks = (n_tokens + block_size_ - 1) / block_size_;
  const int32_t need_full = kinds_[0].layers > 0 ? std::max(0, blocks - int32_t(t.table.size())) : 0;
  const int32_t need_window = kinds_[1].n > 0 ? std::max(0, blocks - int32_t(t.window.size())) : 0;
  if (int64_t(need_full) * kinds_[0].layers + int64_t(need_window) * kinds_[1].layers > pages_available()) return false;
  for (int32_t i = 0; i < need_full; ++i) t.table.push_back(take_block(0));
  for (int32_t i = 0; i < need_window; ++i) t.window.push_back(take_block(1));
  return true;
}

void BlockManager::drop_outside_window(BlockTables& t, int32_t next) {
  if (kinds_[1].n == 0) return;
  const int32_t lo = std::min(std::max(0, next - window_ + 1) / block_size_, int32_t(t.window.size()));
  for (; t.window_first < lo; ++t.window_first) {
    int32_t& b = t.window[size_t(t.window_first)];
    if (b >= 0) unref(b);
    b = -1;
  }
}

void BlockManager::register_block(int32_t b, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens) {
  Kind& K = kinds_[kind_of(b)];
  Block& k = blocks_[b];
  if (k.registered || K.cache.count(hash)) return;  // the first block computed for a prefix names it
  k.registered = true;
  k.hash = hash;
  k.parent = parent;
  K.cache[hash] = b;
  std::copy(tokens.begin(), tokens.end(), block_tokens_.begin() + int64_t(b) * block_size_);
}

void BlockManager::register_tables(std::span<const int32_t> tokens, int32_t n_computed, std::span<const int32_t> table,
                                   std::span<const int32_t> window, int32_t& n_registered, uint64_t& hash) {
  if (!prefix_cache_) return;
  const int32_t full = std::min<int32_t>(n_computed / block_size_, int32_t(std::max(table.size(), window.size())));
  for (; n_registered < full; ++n_registered) {
    const auto chunk = tokens.subspan(size_t(n_registered) * block_size_, size_t(block_size_));
    const uint64_t h = chain_hash(hash, chunk);
    if (size_t(n_registered) < table.size()) register_block(table[size_t(n_registered)], h, hash, chunk);
    if (size_t(n_registered) < window.size() && window[size_t(n_registered)] >= 0)
      register_block(window[size_t(n_registered)], h, hash, chunk);
    hash = h;
  }
}

void BlockManager::register_full_blocks(std::span<const int32_t> tokens, int32_t n_computed, const BlockTables& t,
                                        int32_t& n_registered, uint64_t& hash) {
  register_tables(tokens, n_computed, t.table, t.window, n_registered, hash);
}

void BlockManager::release(BlockTables& t) {
  // Release the tail first so that, among a sequence's blocks, the last ones are evicted first:
  // the LRU order then keeps the shared leading blocks longest.
  for (auto it = t.window.rbegin(); it != t.window.rend(); ++it)
    if (*it >= 0) unref(*it);
  for (auto it = t.table.rbegin(); it != t.table.rend(); ++it) unref(*it);
  t.table.clear();
  t.window.clear();
  t.window_first = 0;
}

int32_t BlockManager::match_prefix(std::span<const int32_t> tokens, int32_t max_tokens, std::vector<int32_t>& table) {
  BlockTables t;
  const int32_t n = match_prefix(tokens, max_tokens, t);
  table.insert(table.end(), t.table.begin(), t.table.end());
  return n;
}

bool BlockManager::grow(std::vector<int32_t>& table, int32_t n_tokens) {
  BlockTables t{std::move(table), {}, 0};
  const bool ok = grow(t, n_tokens);
  table = std::move(t.table);
  return ok;
}

void BlockManager::register_full_blocks(std::span<const int32_t> tokens, int32_t n_computed,
                                        const std::vector<int32_t>& table, int32_t& n_registered, uint64_t& hash) {
  register_tables(tokens, n_computed, table, {}, n_registered, hash);
}

void BlockManager::release(std::vector<int32_t>& table) {
  BlockTables t{std::move(table), {}, 0};
  release(t);
  table.clear();
}

}  // namespace nagare
