#include "model/kv_cache.h"

#include <algorithm>
#include <limits>

#include "kernels/ops.h"
#include "model/model_config.h"
#include "util/error.h"

namespace nagare {

size_t KvCache::bytes_per_token(const ModelConfig& c) {
  return size_t(c.n_layer) * c.n_head_kv * (c.head_dim_k + c.head_dim_v) * sizeof(uint16_t);
}

size_t KvCache::bytes_read(const ModelConfig& c, int64_t n_keys) {
  const size_t per_key = bytes_per_token(c) / size_t(c.n_layer);  // one layer's
  size_t total = 0;
  for (int32_t il = 0; il < c.n_layer; ++il)
    total += per_key * size_t(c.layer_uses_swa[il] ? std::min<int64_t>(n_keys, c.sliding_window) : n_keys);
  return total;
}

int32_t KvCache::blocks_for_bytes(const ModelConfig& c, size_t bytes, int32_t block_size) {
  const size_t blocks = bytes / (bytes_per_token(c) * size_t(block_size));
  return int32_t(std::min<size_t>(blocks, size_t(std::numeric_limits<int32_t>::max())));
}

KvCache::KvCache(const ModelConfig& c, int32_t n_blocks, int32_t block_size)
    : n_blocks_(n_blocks),
      block_size_(block_size),
      n_slots_(int64_t(n_blocks) * block_size),
      k_stride_(int64_t(c.n_head_kv) * c.head_dim_k),
      v_stride_(int64_t(c.n_head_kv) * c.head_dim_v) {
  if (n_blocks <= 0 || block_size <= 0) throw Error("KV cache needs at least one block");
  keys_mem_ = ZeroedPages(size_t(c.n_layer) * n_slots_ * k_stride_ * sizeof(uint16_t));
  values_mem_ = ZeroedPages(size_t(c.n_layer) * n_slots_ * v_stride_ * sizeof(uint16_t));
  keys_ = static_cast<uint16_t*>(keys_mem_.data());
  values_ = static_cast<uint16_t*>(values_mem_.data());
}

void KvCache::store_key(int32_t layer, int64_t slot, const float* key) {
  uint16_t* column = key_block(layer, slot / block_size_) + slot % block_size_;
  // Converted a chunk at a time by the active ISA's row converter, then spread over the rows.
  constexpr int64_t kChunk = 256;
  uint16_t halves[kChunk];
  for (int64_t e0 = 0; e0 < k_stride_; e0 += kChunk) {
    const int64_t n = std::min(kChunk, k_stride_ - e0);
    fp32_to_fp16_row(key + e0, halves, n);
    for (int64_t e = 0; e < n; ++e) column[(e0 + e) * block_size_] = halves[e];
  }
}

}  // namespace nagare
