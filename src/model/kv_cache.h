// Paged key/value storage: a pool of fixed-size blocks shared by all sequences of one model.
// Which block belongs to which sequence is decided above (engine); here is only the memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gguf/ggml_type.h"
#include "util/zeroed_pages.h"

namespace nagare {

struct ModelConfig;

// What a cache stores keys and values as (llama.cpp's --cache-type-k / --cache-type-v): F16 (the
// default), Q8_0 or Q4_0. A quantized key meets the query quantized to Q8_0 (the formats' own dot
// product, as llama.cpp computes it); a quantized value row is dequantized before it is weighted.
struct KvTypes {
  GgmlType k = GgmlType::F16, v = GgmlType::F16;
  bool operator==(const KvTypes&) const = default;
};
// "f16", "q8_0" or "q4_0" (ASCII case-insensitive); throws Error naming the choices otherwise.
GgmlType parse_kv_type(const std::string& name);
// Throws Error with the reason when the model's heads cannot be stored in these types' blocks
// (each head's keys and values must be whole blocks of 32).
void check_kv_types(const ModelConfig& config, KvTypes types);

class KvCache {
 public:
  // Keys and values are stored as IEEE half floats, as llama.cpp does by default. The memory is
  // made of pages, each one layer's keys and values of block_size positions; it becomes
  // resident as pages are first written (ZeroedPages), so a cache sized for peak concurrency
  // costs what has been used, and pages are handed out low ids first.
  //
  // One table: a block b is every layer's positions, at fixed pages. A sequence's one block
  // table serves all layers.
  KvCache(const ModelConfig& config, int32_t n_blocks, int32_t block_size = 16, KvTypes types = {});
  // Sliding windows kept apart (a model with both kinds of layer): blocks of the full-attention
  // layers (kind 0) and blocks of the sliding-window layers (kind 1) are numbered apart, a
  // sequence has a table of each (BatchSequence::window_table), and a block's pages are any of
  // n_pages, given to it by whoever allocates blocks (BlockManager writes block_pages). So a
  // long sequence keeps only its window's blocks of the sliding-window layers, and the memory
  // those free serves either kind.
  static std::unique_ptr<KvCache> with_separate_windows(const ModelConfig& config, int64_t n_pages,
                                                        int32_t block_size = 16, KvTypes types = {});

  // Blocks needed for a budget of `bytes` (one table).
  static int32_t blocks_for_bytes(const ModelConfig& config, size_t bytes, int32_t block_size = 16, KvTypes types = {});
  static size_t bytes_per_token(const ModelConfig& config, KvTypes types = {});
  // The cache bytes one token's attention reads with n_keys tokens before it (sliding-window
  // layers read only their window): with the weights, what bounds decoding at depth.
  static size_t bytes_read(const ModelConfig& config, int64_t n_keys, KvTypes types = {});
  // The bytes of one page: one layer's keys and values of block_size positions.
  static size_t page_bytes(const ModelConfig& config, int32_t block_size, KvTypes types = {});

  int32_t block_size() const { return block_size_; }
  int32_t n_blocks() const { return kinds_[0].n_blocks; }  // one table: its blocks
  int64_t n_pages() const { return n_pages_; }
  size_t bytes() const { return keys_mem_.size() + values_mem_.size(); }
  bool separate_windows() const { return separate_windows_; }
  KvTypes types() const { return types_; }
  int32_t window() const { return window_; }  // the sliding window's tokens (0: none)
  bool layer_in_window(int32_t layer) const { return kind_[size_t(layer)] == 1; }
  // Separate windows: layers of kind k (0: full attention, 1: sliding window) and the block ids
  // of that kind, [first_block(k), first_block(k) + n_kind_blocks(k)) (as many as all pages could
  // make). One table: kind 0 is every layer, block ids [0, n_blocks).
  int32_t kind_layers(int kind) const { return kinds_[kind].layers; }
  int32_t first_block(int kind) const { return kinds_[kind].first_block; }
  int32_t n_kind_blocks(int kind) const { return kinds_[kind].n_blocks; }
  // The kind_layers(kind) pages of block `block` of that kind, one per layer of the kind in
  // layer order; written by the block allocator (separate windows only).
  int32_t* block_pages(int kind, int32_t block) {
    return page_of_.data() + kinds_[kind].base + int64_t(block - kinds_[kind].first_block) * kinds_[kind].layers;
  }

  // A slot is block * block_size + offset, the block taken from the layer's table. Within a
  // block, values (and quantized keys) are stored head by head: the block_size rows of one KV
  // head together, each a row of head_dim elements of its type, so that attention reads one
  // head's values of a block as one run of memory. F16 keys are stored transposed: element e of
  // KV head h's key in the block's slot o at key_block(...)[(h * head_dim + e) * block_size + o],
  // so attention reads one element of a block's keys as one vector (kernels/ops.h
  // dot_f32_f16_key_groups).
  const uint16_t* key_block(int32_t layer, int64_t block) const {
    return reinterpret_cast<const uint16_t*>(keys_ + page(layer, block) * block_size_ * k_row_bytes_);
  }
  const uint8_t* key_row(int32_t layer, int64_t slot, int32_t head) const {
    return keys_ + head_row_offset(layer, slot, head, k_row_bytes_, k_head_bytes_);
  }
  void store_key(int32_t layer, int64_t slot, const float* key);      // n_head_kv * head_dim floats
  void store_value(int32_t layer, int64_t slot, const float* value);  // n_head_kv * head_dim floats
  const uint8_t* value_row(int32_t layer, int64_t slot, int32_t head) const {
    return values_ + head_row_offset(layer, slot, head, v_row_bytes_, v_head_bytes_);
  }
  // F16 values: the half floats of a head's value in a slot (the block's next slot follows).
  const uint16_t* value(int32_t layer, int64_t slot, int32_t head) const {
    return reinterpret_cast<const uint16_t*>(value_row(layer, slot, head));
  }
  int64_t key_head_bytes() const { return k_head_bytes_; }
  int64_t value_head_bytes() const { return v_head_bytes_; }

 private:
  KvCache(const ModelConfig& config, int64_t n_pages, int32_t block_size, bool separate_windows, KvTypes types);
  int64_t page(int32_t layer, int64_t block) const {
    const LayerPages& l = layer_pages_[size_t(layer)];
    return page_of_[size_t(l.offset + block * l.stride)];
  }
  // A block's page holds block_size rows of row_bytes (all heads of a slot) in all.
  int64_t head_row_offset(int32_t layer, int64_t slot, int32_t head, int64_t row_bytes, int64_t head_bytes) const {
    return page(layer, slot / block_size_) * block_size_ * row_bytes + (int64_t(head) * block_size_ + slot % block_size_) * head_bytes;
  }

  struct Kind {
    int32_t layers = 0, first_block = 0, n_blocks = 0;
    int64_t base = 0;  // its blocks' entries in page_of_
  };
  // Layer l's page of block b is page_of_[offset + b * stride].
  struct LayerPages {
    int64_t offset = 0, stride = 1;
  };
  int32_t block_size_, n_head_kv_;
  int64_t n_pages_, k_stride_, v_stride_, k_row_bytes_, v_row_bytes_, k_head_bytes_, v_head_bytes_;
  bool separate_windows_;
  KvTypes types_;
  int32_t window_;
  Kind kinds_[2];
  std::vector<uint8_t> kind_;  // per layer
  std::vector<LayerPages> layer_pages_;
  std::vector<int32_t> page_of_;
  ZeroedPages keys_mem_, values_mem_;
  uint8_t* keys_ = nullptr;
  uint8_t* values_ = nullptr;
};

}  // namespace nagare
