#include "engine/block_manager.h"

#include <algorithm>

#include "util/error.h"

namespace nagare {

BlockManager::BlockManager(int32_t n_blocks, int32_t block_size, bool prefix_cache)
    : n_blocks_(n_blocks), block_size_(block_size), prefix_cache_(prefix_cache), blocks_(n_blocks) {
  if (n_blocks <= 0 || block_size <= 0) throw Error("the KV cache needs at least one block");
  if (prefix_cache) block_tokens_.resize(size_t(n_blocks) * block_size);
  free_.reserve(n_blocks);
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);  // hand out low ids first
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

bool BlockManager::same_tokens(int32_t b, std::span<const int32_t> tokens) const {
  return std::equal(tokens.begin(), tokens.end(), block_tokens_.begin() + int64_t(b) * block_size_);
}

int32_t BlockManager::match_prefix(std::span<const int32_t> tokens, int32_t max_tokens, std::vector<int32_t>& table) {
  if (!prefix_cache_) return 0;
  uint64_t parent = 0;
  int32_t matched = 0;
  const int32_t limit = std::min<int32_t>(int32_t(tokens.size()), max_tokens);
  while (matched + block_size_ <= limit) {
    auto chunk = tokens.subspan(matched, block_size_);
    const uint64_t h = chain_hash(parent, chunk);
    auto it = cache_.find(h);
    if (it == cache_.end()) break;
    const int32_t b = it->second;
    if (blocks_[b].parent != parent || !same_tokens(b, chunk)) break;
    if (blocks_[b].refs == 0) {
      lru_remove(b);
      in_use_++;
    }
    blocks_[b].refs++;
    table.push_back(b);
    parent = h;
    matched += block_size_;
  }
  return matched;
}

void BlockManager::lru_push_back(int32_t b) {
  Block& k = blocks_[b];
  k.prev = lru_tail_;
  k.next = -1;
  if (lru_tail_ >= 0) blocks_[lru_tail_].next = b;
  else lru_head_ = b;
  lru_tail_ = b;
  n_evictable_++;
}

void BlockManager::lru_remove(int32_t b) {
  Block& k = blocks_[b];
  if (k.prev >= 0) blocks_[k.prev].next = k.next;
  else lru_head_ = k.next;
  if (k.next >= 0) blocks_[k.next].prev = k.prev;
  else lru_tail_ = k.prev;
  k.prev = k.next = -1;
  n_evictable_--;
}

int32_t BlockManager::take_block() {
  int32_t b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else {
    b = lru_head_;  // evict the least recently used cached block
    lru_remove(b);
    cache_.erase(blocks_[b].hash);
    blocks_[b].registered = false;
  }
  blocks_[b].refs = 1;
  blocks_[b].hash = blocks_[b].parent = 0;
  in_use_++;
  return b;
}

bool BlockManager::grow(std::vector<int32_t>& table, int32_t n_tokens) {
  const int32_t need = (n_tokens + block_size_ - 1) / block_size_ - int32_t(table.size());
  if (need <= 0) return true;
  if (need > blocks_available()) return false;
  for (int32_t i = 0; i < need; ++i) table.push_back(take_block());
  return true;
}

void BlockManager::register_full_blocks(std::span<const int32_t> tokens, int32_t n_computed,
                                        const std::vector<int32_t>& table, int32_t& n_registered, uint64_t& hash) {
  if (!prefix_cache_) return;
  const int32_t full = std::min<int32_t>(n_computed / block_size_, int32_t(table.size()));
  for (; n_registered < full; ++n_registered) {
    auto chunk = tokens.subspan(size_t(n_registered) * block_size_, block_size_);
    const uint64_t h = chain_hash(hash, chunk);
    const int32_t b = table[n_registered];
    Block& k = blocks_[b];
    if (!k.registered && !cache_.count(h)) {  // the first block computed for a prefix names it
      k.registered = true;
      k.hash = h;
      k.parent = hash;
      cache_[h] = b;
      std::copy(chunk.begin(), chunk.end(), block_tokens_.begin() + int64_t(b) * block_size_);
    }
    hash = h;
  }
}

void BlockManager::release(std::vector<int32_t>& table) {
  // Release the tail first so that, among a sequence's blocks, the last ones are evicted first:
  // the LRU order then keeps the shared leading blocks longest.
  for (auto it = table.rbegin(); it != table.rend(); ++it) {
    Block& k = blocks_[*it];
    if (--k.refs > 0) continue;
    in_use_--;
    if (k.registered) lru_push_back(*it);
    else free_.push_back(*it);
  }
  table.clear();
}

}  // namespace nagare
