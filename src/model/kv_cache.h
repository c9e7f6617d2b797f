// Paged key/value storage: a pool of fixed-size blocks shared by all sequences of one model.
// Which block belongs to which sequence is decided above (engine); here is only the memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include "util/zeroed_pages.h"

namespace nagare {

struct ModelConfig;

class KvCache {
 public:
  // Keys and values are stored as IEEE half floats, as llama.cpp does by default. The memory
  // becomes resident as blocks are first written (ZeroedPages), so a cache sized for peak
  // concurrency costs what has been used; the engine hands out low block ids first.
  KvCache(const ModelConfig& config, int32_t n_blocks, int32_t block_size = 16);

  // Blocks needed for a budget of `bytes`.
  static int32_t blocks_for_bytes(const ModelConfig& config, size_t bytes, int32_t block_size = 16);
  static size_t bytes_per_token(const ModelConfig& config);
  // The cache bytes one token's attention reads with n_keys tokens before it (sliding-window
  // layers read only their window): with the weights, what bounds decoding at depth.
  static size_t bytes_read(const ModelConfig& config, int64_t n_keys);

  int32_t n_blocks() const { return n_blocks_; }
  int32_t block_size() const { return block_size_; }
  size_t bytes() const { return keys_mem_.size() + values_mem_.size(); }

  // A slot is block * block_size + offset. Values are stored slot by slot: the n_head_kv *
  // head_dim half floats of one slot together. Keys are stored transposed within a block:
  // element e (kv head * head_dim + dimension) of the key in the block's slot o at
  // key_block(...)[e * block_size + o], so attention reads one element of a block's keys as one
  // vector (kernels/ops.h dot_f32_f16_cols).
  const uint16_t* key_block(int32_t layer, int64_t block) const {
    return keys_ + (layer * int64_t(n_blocks_) + block) * block_size_ * k_stride_;
  }
  uint16_t* key_block(int32_t layer, int64_t block) {
    return keys_ + (layer * int64_t(n_blocks_) + block) * block_size_ * k_stride_;
  }
  void store_key(int32_t layer, int64_t slot, const float* key);  // n_head_kv * head_dim floats
  uint16_t* value(int32_t layer, int64_t slot) { return values_ + (layer * n_slots_ + slot) * v_stride_; }
  const uint16_t* value(int32_t layer, int64_t slot) const { return values_ + (layer * n_slots_ + slot) * v_stride_; }

 private:
  int32_t n_blocks_, block_size_;
  int64_t n_slots_, k_stride_, v_stride_;
  ZeroedPages keys_mem_, values_mem_;
  uint16_t* keys_ = nullptr;
  uint16_t* values_ = nullptr;
};

}  // namespace nagare
