#include "model/kv_cache.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "kernels/ops.h"
#include "kernels/quant.h"
#include "model/model_config.h"
#include "util/error.h"

namespace nagare {

GgmlType parse_kv_type(const std::string& name) {
  const auto t = ggml_type_from_name(name);
  if (!t || (*t != GgmlType::F16 && *t != GgmlType::Q8_0 && *t != GgmlType::Q4_0))
    throw Error("unknown KV cache type '" + name + "': f16, q8_0 or q4_0");
  return *t;
}

void check_kv_types(const ModelConfig& c, KvTypes t) {
  auto check = [&](GgmlType type, int32_t head_dim, const char* what) {
    const int64_t block = block_elements(type);
    std::string name(ggml_type_name(type));  // as the flags name it: q8_0
    for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    if (head_dim % block != 0)
      throw Error("KV cache type " + name + " for " + what + "s: the model's " + what +
                  " heads have " + std::to_string(head_dim) + " elements, not whole blocks of " + std::to_string(block) +
                  "; use f16");
  };
  check(t.k, c.head_dim_k, "key");
  check(t.v, c.head_dim_v, "value");
}

size_t KvCache::bytes_per_token(const ModelConfig& c, KvTypes t) {
  return size_t(c.n_layer) * (row_bytes(t.k, int64_t(c.n_head_kv) * c.head_dim_k) + row_bytes(t.v, int64_t(c.n_head_kv) * c.head_dim_v));
}

size_t KvCache::page_bytes(const ModelConfig& c, int32_t block_size, KvTypes t) {
  return bytes_per_token(c, t) / size_t(c.n_layer) * size_t(block_size);
}

size_t KvCache::bytes_read(const ModelConfig& c, int64_t n_keys, KvTypes t) {
  const size_t per_key = bytes_per_token(c, t) / size_t(c.n_layer);  // one layer's
  size_t total = 0;
  for (int32_t il = 0; il < c.n_layer; ++il)
    total += per_key * size_t(c.layer_uses_swa[il] ? std::min<int64_t>(n_keys, c.sliding_window) : n_keys);
  return total;
}

int32_t KvCache::blocks_for_bytes(const ModelConfig& c, size_t bytes, int32_t block_size, KvTypes t) {
  const size_t blocks = bytes / (bytes_per_token(c, t) * size_t(block_size));
  return int32_t(std::min<size_t>(blocks, size_t(std::numeric_limits<int32_t>::max())));
}

KvCache::KvCache(const ModelConfig& c, int32_t n_blocks, int32_t block_size, KvTypes types)
    : KvCache(c, int64_t(std::max(n_blocks, 0)) * c.n_layer, block_size, false, types) {
  if (n_blocks <= 0) throw Error("KV cache needs at least one block");
}

std::unique_ptr<KvCache> KvCache::with_separate_windows(const ModelConfig& c, int64_t n_pages, int32_t block_size,
                                                        KvTypes types) {
  return std::unique_ptr<KvCache>(new KvCache(c, n_pages, block_size, true, types));
}

KvCache::KvCache(const ModelConfig& c, int64_t n_pages, int32_t block_size, bool separate_windows, KvTypes types)
    : block_size_(block_size),
      n_head_kv_(std::max(1, c.n_head_kv)),
      n_pages_(n_pages),
      k_stride_(int64_t(c.n_head_kv) * c.head_dim_k),
      v_stride_(int64_t(c.n_head_kv) * c.head_dim_v),
      k_row_bytes_(0),
      v_row_bytes_(0),
      separate_windows_(separate_windows),
      types_(types),
      window_(c.sliding_window),
      kind_(size_t(c.n_layer), 0),
      layer_pages_(size_t(c.n_layer)) {
  if (n_pages <= 0 || block_size <= 0) throw Error("KV cache needs at least one block");
  if (n_pages > std::numeric_limits<int32_t>::max()) throw Error("KV cache too large: more than 2^31 pages");
  check_kv_types(c, types);
  k_row_bytes_ = int64_t(row_bytes(types.k, k_stride_));
  v_row_bytes_ = int64_t(row_bytes(types.v, v_stride_));
  k_head_bytes_ = k_row_bytes_ / n_head_kv_;  // whole blocks of the type (check_kv_types)
  v_head_bytes_ = v_row_bytes_ / n_head_kv_;
  if (!separate_windows) {
    // Layer l's page of block b is l * n_blocks + b: each layer's blocks side by side.
    const int32_t n_blocks = int32_t(n_pages / c.n_layer);
    kinds_[0] = {c.n_layer, 0, n_blocks, 0};
    page_of_.resize(size_t(n_pages));
    for (int64_t p = 0; p < n_pages; ++p) page_of_[size_t(p)] = int32_t(p);
    for (int32_t il = 0; il < c.n_layer; ++il) layer_pages_[size_t(il)] = {int64_t(il) * n_blocks, 1};
  } else {
    int32_t slot[2] = {0, 0};
    for (int32_t il = 0; il < c.n_layer; ++il) kind_[size_t(il)] = c.layer_uses_swa[il] ? 1 : 0;
    for (uint8_t k : kind_) kinds_[k].layers++;
    if (kinds_[1].layers == 0) throw Error("the model has no sliding-window layers to keep apart");
    for (Kind& k : kinds_) k.n_blocks = k.layers ? int32_t(n_pages / k.layers) : 0;
    kinds_[1].first_block = kinds_[0].n_blocks;
    kinds_[1].base = int64_t(kinds_[0].n_blocks) * kinds_[0].layers;
    page_of_.assign(size_t(kinds_[1].base + int64_t(kinds_[1].n_blocks) * kinds_[1].layers), -1);
    for (int32_t il = 0; il < c.n_layer; ++il) {
      const Kind& k = kinds_[kind_[size_t(il)]];
      layer_pages_[size_t(il)] = {k.base - int64_t(k.first_block) * k.layers + slot[kind_[size_t(il)]]++, k.layers};
    }
  }
  keys_mem_ = ZeroedPages(size_t(n_pages) * block_size * k_row_bytes_);
  values_mem_ = ZeroedPages(size_t(n_pages) * block_size * v_row_bytes_);
  keys_ = static_cast<uint8_t*>(keys_mem_.data());
  values_ = static_cast<uint8_t*>(values_mem_.data());
}

void KvCache::store_value(int32_t layer, int64_t slot, const float* value) {
  const int64_t dv = v_stride_ / n_head_kv_;
  for (int32_t h = 0; h < n_head_kv_; ++h) {
    uint8_t* row = values_ + head_row_offset(layer, slot, h, v_row_bytes_, v_head_bytes_);
    if (types_.v == GgmlType::F16) fp32_to_fp16_row(value + h * dv, reinterpret_cast<uint16_t*>(row), dv);
    else quantize_row(types_.v, value + h * dv, row, dv);
  }
}

void KvCache::store_key(int32_t layer, int64_t slot, const float* key) {
  if (types_.k != GgmlType::F16) {
    const int64_t dk = k_stride_ / n_head_kv_;
    for (int32_t h = 0; h < n_head_kv_; ++h)
      quantize_row(types_.k, key + h * dk, keys_ + head_row_offset(layer, slot, h, k_row_bytes_, k_head_bytes_), dk);
    return;
  }
  uint16_t* column = const_cast<uint16_t*>(key_block(layer, slot / block_size_)) + slot % block_size_;
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
