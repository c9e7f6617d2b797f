// A ragged batch for one forward pass: prefill chunks of new sequences and single decode tokens
// of running ones together. Each token names its sequence, whose block table says where its
// keys and values live in the paged KV cache.
#pragma once

#include <cstdint>
#include <vector>

namespace nagare {

struct BatchSequence {
  const int32_t* block_table = nullptr;  // KV block ids covering positions [0, n_blocks * block_size)
  int32_t n_blocks = 0;
  // Where the cache keeps sliding windows apart (KvCache::separate_windows), the sliding-window
  // layers' blocks: as long as block_table, -1 before the window of the batch's first token.
  const int32_t* window_table = nullptr;
};

struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;   // position of each token in its sequence
  std::vector<int32_t> seq;         // index into `sequences`
  std::vector<uint8_t> want_logits; // 1: return this token's logits
  std::vector<uint8_t> want_hidden; // 1: return this token's final-normed hidden state (embeddings)
  std::vector<BatchSequence> sequences;

  void clear() {
    tokens.clear();
    positions.clear();
    seq.clear();
    want_logits.clear();
    want_hidden.clear();
    sequences.clear();
  }
  void add(int32_t token, int32_t pos, int32_t seq_index, bool logits, bool hidden = false) {
    tokens.push_back(token);
    positions.push_back(pos);
    seq.push_back(seq_index);
    want_logits.push_back(logits ? 1 : 0);
    want_hidden.push_back(hidden ? 1 : 0);
  }
  int64_t size() const { return int64_t(tokens.size()); }
  // True when no sequence has two tokens here (a decode step): no token then reads keys that
  // another token of the batch writes.
  bool one_token_per_sequence() const {
    std::vector<uint8_t> seen(sequences.size(), 0);
    for (int32_t s : seq) {
      if (s < 0 || size_t(s) >= seen.size() || seen[size_t(s)]) return false;
      seen[size_t(s)] = 1;
    }
    return true;
  }
  int64_t n_logits() const {
    int64_t n = 0;
    for (auto w : want_logits) n += w;
    return n;
  }
  // Tokens with want_hidden set (want_hidden may be left empty: none).
  int64_t n_hidden() const {
    int64_t n = 0;
    for (auto w : want_hidden) n += w;
    return n;
  }
};

}  // namespace nagare
